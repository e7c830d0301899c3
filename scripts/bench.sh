#!/usr/bin/env bash
# Runs every benchmark under bench/ (each prints its own numbers). Not part of npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for bench in bench/*.ts; do
  echo "== $bench"
  node --expose-gc "$bench" || { echo "!! $bench failed"; status=1; }
done
exit $status
