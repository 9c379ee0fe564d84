#!/usr/bin/env bash
# Runs every test of the repository: vet, the unit and end-to-end tests,
# with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test"
go test -race -count=1 -timeout 10m ./...
