#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL 15 for the tests.
#
#   hack/pgtest.sh start [DIR]   start a server whose files all live in DIR
#                                (a new temporary directory by default) and
#                                print its URL on stdout
#   hack/pgtest.sh stop DIR      stop that server and remove DIR
#
# The server listens on 127.0.0.1 only, on a free port, with its unix socket
# in DIR. It trades durability for speed (fsync=off): it is for tests only.
# Its default collation is ICU's en-US, not C, so that a query relying on the
# database's collation for byte order shows up in the tests.
#
# PostgreSQL refuses to run as root: when run as root, the script gives DIR to
# the postgres user and runs the server as that user.
#
# PGTEST_BIN overrides the directory of initdb, pg_ctl and postgres
# (default /usr/lib/postgresql/15/bin).
set -euo pipefail

bin=${PGTEST_BIN:-/usr/lib/postgresql/15/bin}
# marker names the file that tells "stop" a directory is one of ours.
marker=.utask-pgtest

usage() {
	echo "usage: $0 start [DIR] | stop DIR" >&2
	exit 2
}

# as_server runs a command as the user that owns the server's files.
as_server() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local dir=${1:-}
	for tool in initdb pg_ctl postgres; do
		if [[ ! -x $bin/$tool ]]; then
			echo "pgtest: $bin/$tool not found (set PGTEST_BIN)" >&2
			exit 1
		fi
	done
	if [[ -z $dir ]]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/utask-pgtest.XXXXXX")
	else
		mkdir -p "$dir"
		if [[ -n $(ls -A "$dir") ]]; then
			echo "pgtest: $dir is not empty" >&2
			exit 1
		fi
	fi
	dir=$(cd "$dir" && pwd)
	touch "$dir/$marker"
	if [[ $(id -u) -eq 0 ]]; then
		chown -R postgres: "$dir"
	fi
	chmod 700 "$dir"

	local user
	user=$(as_server id -un)
	if ! as_server "$bin/initdb" --pgdata="$dir/data" --username="$user" --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8 --locale-provider=icu --icu-locale=en-US \
		--no-sync >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		echo "pgtest: initdb failed; files left in $dir" >&2
		exit 1
	fi

	# A port is free when the server manages to bind it: try a few at random
	# rather than guess, since another process may take one in between.
	local port attempt
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 40000))
		if as_server "$bin/pg_ctl" start --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
			--options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
-c shared_buffers=128MB" >"$dir/pg_ctl.log" 2>&1; then
			echo "postgres://$user@127.0.0.1:$port/postgres?sslmode=disable"
			echo "pgtest: PostgreSQL is running in $dir; stop it with: $0 stop $dir" >&2
			return 0
		fi
		if ! grep -q "could not bind\|could not create any TCP/IP sockets\|already in use" "$dir/server.log" 2>/dev/null; then
			cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null || true
			echo "pgtest: PostgreSQL did not start; files left in $dir" >&2
			exit 1
		fi
		echo "pgtest: port $port is taken (attempt $attempt), trying another" >&2
		: >"$dir/server.log"
	done
	echo "pgtest: found no free port; files left in $dir" >&2
	exit 1
}

stop() {
	local dir=${1:-}
	[[ -n $dir ]] || usage
	if [[ ! -f $dir/$marker ]]; then
		echo "pgtest: $dir was not made by $0; leaving it alone" >&2
		exit 1
	fi
	if [[ -f $dir/data/postmaster.pid ]]; then
		as_server "$bin/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait --timeout=60 >/dev/null
	fi
	rm -rf -- "$dir"
}

case ${1:-} in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
*) usage ;;
esac
