#!/usr/bin/env bash
# local-kms (an AWS KMS emulator) for the adapters/awskms signer tests.
#
#   localkms.sh start STATEDIR   # build local-kms (pinned in localkms/go.mod)
#                                # if missing, start it on 127.0.0.1:<free
#                                # port>, print HUMAN_TEST_KMS_ENDPOINT=http://...
#   localkms.sh stop STATEDIR    # stop it
#
# The upstream binary (go install github.com/nsmithuk/local-kms@<pin>)
# listens on every interface; localkms/main.go serves the same handler on
# loopback only. Both the module and the build are cached in the Go caches.
set -euo pipefail
cmd=${1:?usage: localkms.sh start|stop STATEDIR}
state=${2:?usage: localkms.sh start|stop STATEDIR}
here=$(cd "$(dirname "$0")" && pwd)
GO=${GO:-go}

case "$cmd" in
start)
	mkdir -p "$state/data"
	bin="$state/local-kms"
	echo "local-kms: building (pinned in $here/localkms/go.mod)" >&2
	(cd "$here/localkms" && GOFLAGS=-buildvcs=false $GO build -o "$bin" .) >&2
	rm -f "$state/addr"
	nohup "$bin" -addr 127.0.0.1:0 -data "$state/data" -ready "$state/addr" >"$state/local-kms.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 1 100); do
		if [ -s "$state/addr" ]; then
			addr=$(cat "$state/addr")
			echo "local-kms: up on $addr" >&2
			echo "HUMAN_TEST_KMS_ENDPOINT=http://$addr"
			exit 0
		fi
		if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
			cat "$state/local-kms.log" >&2
			echo "local-kms: exited before listening" >&2
			exit 1
		fi
		sleep 0.1
	done
	cat "$state/local-kms.log" >&2
	echo "local-kms: not listening after 10s" >&2
	exit 1
	;;
stop)
	if [ -e "$state/pid" ]; then
		kill "$(cat "$state/pid")" 2>/dev/null || true
		rm -f "$state/pid"
	fi
	;;
*)
	echo "usage: localkms.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
