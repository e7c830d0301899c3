#!/usr/bin/env bash
# Builds the real Kubernetes programs the tests meet (kube-apiserver, kube-proxy, kubectl from
# tools/kube; etcd from tools/etcd) with the machine's Go, into a cache outside the repository keyed
# by the module files, so a fresh clone on a machine that built them once finds them warm. Links
# .testbed/kube-bin to the cached directory and prints its path. Rebuilds only when a module file,
# a main, the flags or the Go version change; a failed build leaves no half-filled directory.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v go >/dev/null 2>&1; then
  echo "build-kube: no go command on PATH; install Go 1.26 (the tools' go.mod files need go >= 1.26.0)" >&2
  exit 1
fi
# The machine's own Go only: a toolchain download would make the build depend on more than the proxy.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

sources=(
  tools/kube/go.mod tools/kube/go.sum tools/kube/cmd/kube-apiserver/main.go
  tools/kube/cmd/kube-proxy/main.go tools/kube/cmd/kubectl/main.go
  tools/etcd/go.mod tools/etcd/go.sum tools/etcd/main.go
)
kube_version="$(cd "$repo/tools/kube" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="${kube_version#v1.}"
minor="${minor%%.*}"
# What `kubectl version` and the API server's /version report; without it they say v0.0.0-master.
version_flags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1"
version_flags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
ldflags="-s -w $version_flags"

key="$({
  go version
  echo "$ldflags"
  for file in "${sources[@]}"; do
    echo "$file"
    cat "$repo/$file"
  done
} | sha256sum | cut -c1-16)"
cache="${AKS_IPVLAN_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aks-ipvlan/kube}"
bin="$cache/$key/bin"
programs=(kube-apiserver kube-proxy kubectl etcd)

link() {
  mkdir -p "$repo/.testbed"
  ln -sfn "$bin" "$repo/.testbed/kube-bin"
  echo "$bin"
}
complete() {
  local program
  for program in "${programs[@]}"; do [ -x "$bin/$program" ] || return 1; done
}

complete && link && exit 0

mkdir -p "$cache"
# One build at a time per cache: a second caller waits and then finds the programs built.
exec 9>"$cache/.lock"
flock 9
complete && link && exit 0

staging="$cache/$key/bin.tmp"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
start="$(date +%s)"
(cd "$repo/tools/kube" && go mod download)
(cd "$repo/tools/etcd" && go mod download)
downloaded="$(date +%s)"
(cd "$repo/tools/kube" && go build -trimpath -ldflags="$ldflags" -o "$staging/" ./cmd/kube-apiserver ./cmd/kube-proxy ./cmd/kubectl)
(cd "$repo/tools/etcd" && go build -trimpath -ldflags="-s -w" -o "$staging/etcd" .)
built="$(date +%s)"
rm -rf "$bin"
mv "$staging" "$bin"
echo "build-kube: $kube_version built in $bin: modules $((downloaded - start))s, compile $((built - downloaded))s" >&2
link
