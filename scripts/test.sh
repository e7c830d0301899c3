#!/usr/bin/env bash
# Every test: host setup, type check, lint and format, unused code (knip), unit tests, and the e2e
# tests on a real kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
bash scripts/build-kube.sh >/dev/null # the real etcd, kube-apiserver, kube-proxy, kubectl (test/realkube)
tsc --noEmit
eslint .
prettier --check .
knip
vitest run
