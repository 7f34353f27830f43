#!/usr/bin/env bash
# The headline benchmarks of README.md's table, in one run, each with its
# same-run baseline: passport chain verification (one core), ledger
# appends beside Tessera (closed loop and paced), receipt verification,
# and the server load test. Takes about 6 minutes on 2 cores; run it on a
# quiet machine (other load shows up in every figure).
#
#   scripts/bench-headline.sh | tee bench-headline.txt
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

echo "== passport: 3-link chain, cold and cached, one core"
$GO test -run '^$' -bench 'Chain3|WebAuthnAssertion' -benchmem -cpu 1 -count 5 ./passport/
echo "== ledger: receipt verification, export verification"
$GO test -run '^$' -bench 'VerifyReceipt|VerifyExport' -cpu 1 ./ledger/
echo "== ledger: appends, closed loop (32, 64, 96, 256 and 4096 in flight), HUMAN vs Tessera"
(cd bench && $GO test -run '^$' -bench 'BenchmarkAppend/(human-attest-(sqlite|memory)|human-attest-sqlite-noindex|tessera-posix)/w(32|64|96|256|4096)$' -benchtime 3s ./ledger/)
echo "== ledger: appends at a fixed offered rate (open loop), HUMAN on SQLite vs Tessera"
(cd bench && $GO test -run '^$' -bench 'AppendPaced' -benchtime 60000x ./ledger/)
echo "== server: allowed Call through human serve on SQLite (vegeta, loopback)"
for w in 8 16 32 64; do
	(cd bench && $GO run ./load -duration 8s -workers "$w" 2>&1 | tail -3)
done
