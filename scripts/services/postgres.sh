#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the adapters/postgres tests and the
# "postgres" scenario profile.
#
#   postgres.sh start STATEDIR   # install Debian's postgresql if its binaries
#                                # are missing, initdb a cluster, start it on
#                                # 127.0.0.1:<free port>, create database
#                                # "human", an owner role and an application
#                                # role, print
#                                #   HUMAN_TEST_POSTGRES_URL=postgres://human_owner@...
#                                #   HUMAN_TEST_POSTGRES_APP_URL=postgres://human_app@...
#   postgres.sh stop STATEDIR    # stop the cluster and remove its files
#
# human_owner owns the database (and so every table the migrations create);
# human_app is what an application connects as: no superuser, no
# BYPASSRLS, owner of nothing, so row-level security applies to it. Default
# privileges give human_app DML on everything human_owner creates later
# (including the per-test schemas).
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop STATEDIR}
state=${2:?usage: postgres.sh start|stop STATEDIR}

# as_pg runs a command as the postgres system user when we are root
# (initdb refuses to run as root), else as ourselves.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_bin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

case "$cmd" in
start)
	mkdir -p "$state"
	if ! bin=$(pg_bin); then
		echo "postgres: installing Debian postgresql" >&2
		sudo=""
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends postgresql >&2
		bin=$(pg_bin) || { echo "postgres: no initdb after installing postgresql" >&2; exit 1; }
	fi
	# The cluster lives outside STATEDIR: STATEDIR's parent may be private
	# to root, and the server runs as the postgres user.
	cluster=$(mktemp -d "${TMPDIR:-/tmp}/human-pg.XXXXXX")
	echo "$cluster" >"$state/cluster"
	chmod 0755 "$cluster"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$cluster"
	fi
	as_pg "$bin/initdb" -D "$cluster/data" -U postgres -A trust -E UTF8 --no-sync >"$cluster/initdb.log" 2>&1 || {
		cat "$cluster/initdb.log" >&2
		echo "postgres: initdb failed" >&2
		exit 1
	}
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	as_pg "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $cluster -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2 || {
		cat "$cluster/server.log" >&2
		echo "postgres: pg_ctl start failed" >&2
		exit 1
	}
	echo "$port" >"$state/port"
	psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
	"${psql[@]}" -c "CREATE ROLE human_owner LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB" >&2
	"${psql[@]}" -c "CREATE ROLE human_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" >&2
	"${psql[@]}" -c "CREATE DATABASE human OWNER human_owner" >&2
	"${psql[@]}" -c "ALTER DEFAULT PRIVILEGES FOR ROLE human_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO human_app" \
		-c "ALTER DEFAULT PRIVILEGES FOR ROLE human_owner GRANT USAGE, SELECT ON SEQUENCES TO human_app" \
		-c "ALTER DEFAULT PRIVILEGES FOR ROLE human_owner GRANT USAGE ON SCHEMAS TO human_app" >&2
	"${psql[@]}" -d human -c "ALTER DEFAULT PRIVILEGES FOR ROLE human_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO human_app" \
		-c "ALTER DEFAULT PRIVILEGES FOR ROLE human_owner GRANT USAGE, SELECT ON SEQUENCES TO human_app" \
		-c "ALTER DEFAULT PRIVILEGES FOR ROLE human_owner GRANT USAGE ON SCHEMAS TO human_app" >&2
	echo "postgres: up on 127.0.0.1:$port ($bin)" >&2
	echo "HUMAN_TEST_POSTGRES_URL=postgres://human_owner@127.0.0.1:$port/human?sslmode=disable"
	echo "HUMAN_TEST_POSTGRES_APP_URL=postgres://human_app@127.0.0.1:$port/human?sslmode=disable"
	;;
stop)
	if [ -e "$state/cluster" ]; then
		cluster=$(cat "$state/cluster")
		if bin=$(pg_bin) && [ -d "$cluster/data" ]; then
			as_pg "$bin/pg_ctl" -D "$cluster/data" -m immediate -w stop >&2 || true
		fi
		case "$cluster" in
		*/human-pg.*) rm -rf "$cluster" ;;
		esac
		rm -f "$state/cluster" "$state/port"
	fi
	;;
*)
	echo "usage: postgres.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
