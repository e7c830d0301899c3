#!/usr/bin/env bash
# Runs every benchmark under bench/ (each prints its own numbers). Not part of npm test.
# --runner auto|native|uml|qemu: the testbed's runner for the benches that boot one (default auto;
# bench/runners.ts then measures every runner this machine offers).
set -euo pipefail
cd "$(dirname "$0")/.."
while [ $# -gt 0 ]; do
  case "$1" in
    --runner) export AKS_IPVLAN_RUNNER="${2:?--runner needs auto, native, uml or qemu}"; shift 2 ;;
    *) echo "bench: unknown argument $1 (usage: bench.sh [--runner auto|native|uml|qemu])" >&2; exit 2 ;;
  esac
done
status=0
for bench in bench/*.ts; do
  echo "== $bench"
  node --expose-gc "$bench" || { echo "!! $bench failed"; status=1; }
done
exit $status
