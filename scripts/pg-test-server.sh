#!/bin/sh
# pg-test-server.sh starts and stops a throwaway PostgreSQL cluster for the
# storage tests (internal/store/postgres). It never touches a system cluster:
# everything lives in DIR, it listens on 127.0.0.1 only, and auth is trust,
# so it must never be used for real data.
#
#   scripts/pg-test-server.sh start DIR PORT   # prints the DSN for CUSTOS_TEST_PG
#   scripts/pg-test-server.sh stop DIR
set -eu

usage() {
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
}

# pgbin finds a PostgreSQL binary on PATH or under Debian's versioned dirs.
pgbin() {
	if command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return
		fi
	done
	echo "$0: $1 not found (install postgresql)" >&2
	exit 1
}

# PostgreSQL refuses to run as root, so as root we run it as "postgres".
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2

case "$cmd" in
start)
	[ $# -eq 3 ] || usage
	port=$3
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		chown postgres "$dir"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$(pgbin initdb)" -D "$dir/data" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	mkdir -p "$dir/sock"
	[ "$(id -u)" = 0 ] && chown postgres "$dir/sock"
	# fsync stays on: the tests measure the engine as production runs it.
	opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock -c fsync=on -c synchronous_commit=on -c max_connections=100"
	if ! as_pg "$(pgbin pg_ctl)" -D "$dir/data" status >/dev/null 2>&1; then
		as_pg "$(pgbin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 30 start >/dev/null
	fi
	i=0
	until as_pg "$(pgbin pg_isready)" -h 127.0.0.1 -p "$port" -q; do
		i=$((i + 1))
		[ $i -lt 60 ] || { echo "$0: server did not become ready" >&2; exit 1; }
		sleep 0.5
	done
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_pg "$(pgbin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
*)
	usage
	;;
esac
