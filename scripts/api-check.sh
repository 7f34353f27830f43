#!/usr/bin/env bash
# Service-free API checks that scripts/test.sh runs after the Go tests:
#   1. helm lint of deploy/helm/human (pinned Helm, through `go run`);
#   2. schemathesis (pinned, from PyPI, in a cached virtualenv) against
#      `human serve` on 127.0.0.1 and a free port, with a bounded number of
#      examples: no 5xx, no response that violates the OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
SCHEMATHESIS_VERSION=4.32.5
HELM=helm.sh/helm/v3/cmd/helm@v3.22.0

echo "== helm lint deploy/helm/human" >&2
$GO run "$HELM" lint deploy/helm/human

state=$(mktemp -d "${TMPDIR:-/tmp}/human-api.XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$state"
}
trap cleanup EXIT

venv=${XDG_CACHE_HOME:-$HOME/.cache}/human/schemathesis-$SCHEMATHESIS_VERSION
if [ ! -x "$venv/bin/schemathesis" ]; then
	echo "== installing schemathesis==$SCHEMATHESIS_VERSION into $venv" >&2
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "== schemathesis against human serve" >&2
$GO build -o "$state/human" ./examples/server
"$state/human" serve --addr 127.0.0.1:0 --data-dir "$state/data" --log-level error >"$state/out" 2>"$state/err" &
pid=$!
base=""
for _ in $(seq 1 100); do
	base=$(sed -n 's/^human serve: listening on //p' "$state/out")
	[ -n "$base" ] && break
	sleep 0.1
done
if [ -z "$base" ]; then
	echo "FATAL: human serve did not start" >&2
	cat "$state/err" >&2
	exit 1
fi
"$venv/bin/schemathesis" run "$base/v1/openapi.json" --url "$base" \
	--checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
	--max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --max-response-time 5 --seed 1 \
	--no-color --suppress-health-check all --report-dir "$state/report" >&2 || {
	echo "FATAL: schemathesis found problems (above)" >&2
	exit 1
}
