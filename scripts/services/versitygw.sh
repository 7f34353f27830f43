#!/usr/bin/env bash
# versitygw (Apache-2.0), an S3 gateway with conditional writes,
# versioning and object lock, for the adapters/s3 tests and the scenario
# suite's "policies/ledger on S3" profiles.
#
#   versitygw.sh start STATEDIR   # go install versitygw@v1.8.0 if missing,
#                                 # serve a posix backend on 127.0.0.1:<free
#                                 # port>, print HUMAN_TEST_S3_* lines
#   versitygw.sh stop STATEDIR    # stop it
#
# Tests create their own bucket (a fresh one per test).
set -euo pipefail
cmd=${1:?usage: versitygw.sh start|stop STATEDIR}
state=${2:?usage: versitygw.sh start|stop STATEDIR}
GO=${GO:-go}
version=v1.8.0

case "$cmd" in
start)
	gobin=$($GO env GOBIN)
	[ -n "$gobin" ] || gobin=$($GO env GOPATH)/bin
	bin="$gobin/versitygw"
	if ! [ -x "$bin" ] || ! $GO version -m "$bin" 2>/dev/null | grep -Eq "^\s+mod\s+github.com/versity/versitygw\s+$version\s"; then
		echo "versitygw: go install github.com/versity/versitygw/cmd/versitygw@$version" >&2
		GOFLAGS=-buildvcs=false $GO install "github.com/versity/versitygw/cmd/versitygw@$version" >&2
	fi
	mkdir -p "$state/data" "$state/versions"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	access=humantest
	secret=humantest-secret
	# Metadata lives in xattrs; fall back to a sidecar directory where the
	# filesystem has none (overlay and tmpfs on some CI machines).
	sidecar=()
	if ! setfattr -n user.humantest -v 1 "$state/data" 2>/dev/null; then
		mkdir -p "$state/meta"
		sidecar=(--sidecar "$state/meta")
	fi
	nohup "$bin" --port "127.0.0.1:$port" --access "$access" --secret "$secret" \
		posix "${sidecar[@]}" --versioning-dir "$state/versions" "$state/data" >"$state/versitygw.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "versitygw: up on 127.0.0.1:$port" >&2
			echo "HUMAN_TEST_S3_ENDPOINT=http://127.0.0.1:$port"
			echo "HUMAN_TEST_S3_ACCESS_KEY=$access"
			echo "HUMAN_TEST_S3_SECRET_KEY=$secret"
			exit 0
		fi
		if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
			cat "$state/versitygw.log" >&2
			echo "versitygw: exited before listening" >&2
			exit 1
		fi
		sleep 0.1
	done
	cat "$state/versitygw.log" >&2
	echo "versitygw: not listening after 20s" >&2
	exit 1
	;;
stop)
	if [ -e "$state/pid" ]; then
		kill "$(cat "$state/pid")" 2>/dev/null || true
		rm -f "$state/pid"
	fi
	;;
*)
	echo "usage: versitygw.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
