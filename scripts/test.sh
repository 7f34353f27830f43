#!/usr/bin/env bash
# The whole test suite, as README.md's `make test` and .ci/run run it.
#
# It starts every real server the tests need (one script per server under
# scripts/services/, each installing what it needs first), exports their
# addresses to the tests, runs vet and the tests, and stops the servers.
# A server that cannot start fails the run loudly: no test skips in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

state=$(mktemp -d "${TMPDIR:-/tmp}/human-test.XXXXXX")
started=()
cleanup() {
	for ((i = ${#started[@]} - 1; i >= 0; i--)); do
		"${started[i]}" stop "$state/$(basename "${started[i]}" .sh)" >/dev/null 2>&1 || true
	done
	rm -rf "$state"
}
trap cleanup EXIT

# Each service script prints KEY=VALUE lines (the environment the tests
# read) on stdout and its progress on stderr.
for svc in scripts/services/*.sh; do
	[ -e "$svc" ] || continue
	name=$(basename "$svc" .sh)
	mkdir -p "$state/$name"
	echo "== starting $name" >&2
	started+=("$svc")
	if ! env_lines=$("$svc" start "$state/$name"); then
		echo "FATAL: test service $name failed to start (see above)" >&2
		exit 1
	fi
	while IFS= read -r line; do
		[ -n "$line" ] && export "${line?}"
	done <<<"$env_lines"
done

# The API checks run first so that go test's results close the log.
echo "== API checks: helm lint, schemathesis against human serve" >&2
GO=$GO ./scripts/api-check.sh
echo "== go vet" >&2
$GO vet ./...
$GO vet -tags humantestclock ./server/
echo "== go test" >&2
$GO test -count=1 ./...
echo "== go test -tags humantestclock (the test-only server clock)" >&2
$GO test -count=1 -tags humantestclock -run TestTestClock ./server/
echo "== go test -race (concurrency-heavy packages)" >&2
$GO test -count=1 -race -short ./ledger/ ./workforce/ ./passport/ ./policy/ ./capability/ ./adapters/sqlite/ .
