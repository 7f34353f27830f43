#!/usr/bin/env bash
# fakesnow (Apache-2.0; a Snowflake dialect over DuckDB) for the
# adapters/snowflake tests.
#
#   fakesnow.sh start STATEDIR   # pip install the pinned fakesnow into a
#                                # cached venv if missing, serve on
#                                # 127.0.0.1:<free port>, print
#                                # HUMAN_TEST_SNOWFLAKE_ADDR=127.0.0.1:PORT
#   fakesnow.sh stop STATEDIR    # stop it
#
# snowflake-connector-python is pinned below 4: fakesnow 0.12.1 imports a
# module that 5.x removed. No shim is needed for gosnowflake (tests set
# SF_DISABLE_MINICORE=true and connect over http).
set -euo pipefail
cmd=${1:?usage: fakesnow.sh start|stop STATEDIR}
state=${2:?usage: fakesnow.sh start|stop STATEDIR}
pins=("fakesnow[server]==0.12.1" "snowflake-connector-python==3.18.1")

case "$cmd" in
start)
	key=$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-16)
	venv=${XDG_CACHE_HOME:-$HOME/.cache}/human/fakesnow-$key
	if ! [ -x "$venv/bin/fakesnow" ]; then
		echo "fakesnow: pip install ${pins[*]} into $venv" >&2
		rm -rf "$venv"
		python3 -m venv "$venv" >&2
		"$venv/bin/pip" install -q "${pins[@]}" >&2
	fi
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cd "$state"
	nohup "$venv/bin/fakesnow" -s --host 127.0.0.1 -p "$port" >"$state/fakesnow.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 1 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "fakesnow: up on 127.0.0.1:$port" >&2
			echo "HUMAN_TEST_SNOWFLAKE_ADDR=127.0.0.1:$port"
			exit 0
		fi
		if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
			cat "$state/fakesnow.log" >&2
			echo "fakesnow: exited before listening" >&2
			exit 1
		fi
		sleep 0.1
	done
	cat "$state/fakesnow.log" >&2
	echo "fakesnow: not listening after 60s" >&2
	exit 1
	;;
stop)
	if [ -e "$state/pid" ]; then
		kill "$(cat "$state/pid")" 2>/dev/null || true
		rm -f "$state/pid"
	fi
	;;
*)
	echo "usage: fakesnow.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
