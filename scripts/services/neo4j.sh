#!/usr/bin/env bash
# Neo4j 5.26 LTS Community (GPLv3, run as a separate test process, never
# linked) for the adapters/neo4j tests and the scenario suite's "graph on
# Neo4j" profile.
#
#   neo4j.sh start STATEDIR   # fetch the jars named in neo4j/pom.xml with
#                             # Maven (cached in ~/.m2 and ~/.cache/human),
#                             # start neo4j/Neo4jTestServer.java with Bolt
#                             # on 127.0.0.1:<free port>, no auth, no HTTP;
#                             # print HUMAN_TEST_NEO4J_URL=bolt://...
#   neo4j.sh stop STATEDIR    # stop it
#
# Needs Java 17 and Maven (apt-get install -y openjdk-17-jdk-headless maven
# when missing). Tests keep apart by namespace (Community has one database).
set -euo pipefail
cmd=${1:?usage: neo4j.sh start|stop STATEDIR}
state=${2:?usage: neo4j.sh start|stop STATEDIR}
here=$(cd "$(dirname "$0")/neo4j" && pwd)

case "$cmd" in
start)
	if ! command -v java >/dev/null || ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then
		echo "neo4j: installing Java 17 and Maven" >&2
		(apt-get update && apt-get install -y openjdk-17-jdk-headless maven) >&2
	fi
	key=$(cat "$here/pom.xml" "$here/Neo4jTestServer.java" | sha256sum | cut -c1-16)
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/human/neo4j-$key
	if ! [ -e "$cache/ok" ]; then
		echo "neo4j: fetching jars with Maven into $cache" >&2
		rm -rf "$cache" && mkdir -p "$cache/classes"
		(cd "$here" && mvn -B -q dependency:copy-dependencies -DoutputDirectory="$cache/lib") >&2
		javac -proc:none -d "$cache/classes" -cp "$cache/lib/*" "$here/Neo4jTestServer.java" >&2
		touch "$cache/ok"
	fi
	mkdir -p "$state/home"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	nohup java -Xms256m -Xmx768m -XX:+UseSerialGC \
		--add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
		-cp "$cache/classes:$cache/lib/*" Neo4jTestServer "$state/home" "$port" \
		>"$state/neo4j.out" 2>"$state/neo4j.log" &
	echo $! >"$state/pid"
	for _ in $(seq 1 1200); do
		if grep -q "^neo4j ready" "$state/neo4j.out" 2>/dev/null; then
			echo "neo4j: up on 127.0.0.1:$port" >&2
			echo "HUMAN_TEST_NEO4J_URL=bolt://127.0.0.1:$port"
			exit 0
		fi
		if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
			tail -50 "$state/neo4j.log" >&2
			echo "neo4j: exited before Bolt was ready" >&2
			exit 1
		fi
		sleep 0.1
	done
	tail -50 "$state/neo4j.log" >&2
	echo "neo4j: not ready after 120s" >&2
	exit 1
	;;
stop)
	if [ -e "$state/pid" ]; then
		pid=$(cat "$state/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$state/pid"
	fi
	;;
*)
	echo "usage: neo4j.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
