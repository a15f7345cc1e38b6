#!/usr/bin/env bash
# test.sh: vet and run every test. Reads ../shared/fixtures in place (other
# projects' captures); with CI=true a missing ../shared is a failure.
# ARCADVISE_VM=1 also runs the real-kernel lane (test/vm/lane.sh, tens of
# minutes under emulation).
set -euo pipefail
cd "$(dirname "$0")"
go vet ./...
go test -count=1 ./...
if [[ ${ARCADVISE_VM:-0} == 1 ]]; then
  test/vm/lane.sh
fi
