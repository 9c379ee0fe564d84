#!/usr/bin/env bash
# Runs every test of the repository: vet, the unit and end-to-end tests,
# with the race detector.
#
# The PostgreSQL store's tests need a database. When UTASK_TEST_DATABASE_URL
# is unset and PostgreSQL 15 is installed (PGTEST_BIN, by default
# /usr/lib/postgresql/15/bin), a throwaway server is started for the run
# (hack/pgtest.sh) and those tests must pass on it (UTASK_REQUIRE_POSTGRES=1).
# Without either, they skip, unless UTASK_REQUIRE_POSTGRES=1 (as in CI), which
# makes them fail.
set -euo pipefail
cd "$(dirname "$0")/.."

pgbin=${PGTEST_BIN:-/usr/lib/postgresql/15/bin}
if [[ -z ${UTASK_TEST_DATABASE_URL:-} ]]; then
	if [[ -x $pgbin/initdb && -x $pgbin/pg_ctl && -x $pgbin/postgres ]]; then
		echo "== start a throwaway PostgreSQL"
		pgdir=$(mktemp -d "${TMPDIR:-/tmp}/utask-pgtest.XXXXXX")
		trap './hack/pgtest.sh stop "$pgdir"' EXIT
		UTASK_TEST_DATABASE_URL=$(./hack/pgtest.sh start "$pgdir")
		export UTASK_TEST_DATABASE_URL
		export UTASK_REQUIRE_POSTGRES=1
	else
		echo "== notice: UTASK_TEST_DATABASE_URL is unset and there is no PostgreSQL in $pgbin:" \
			"the PostgreSQL tests skip (or fail, with UTASK_REQUIRE_POSTGRES=1)" >&2
	fi
fi

echo "== go vet"
go vet ./...

race=-race
if ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
	echo "== notice: no C compiler: the tests run without the race detector" >&2
	race=
fi

echo "== go test"
go test $race -count=1 -timeout 10m ./...

# The fuzz targets of the template parser and of value templating run for
# a while on every run (UTASK_FUZZTIME, default 60s each; 0 skips them).
fuzztime=${UTASK_FUZZTIME:-60s}
if [[ $fuzztime != 0 ]]; then
	echo "== fuzz ($fuzztime each)"
	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "$fuzztime" ./template/
	go test -run '^$' -fuzz '^FuzzRender$' -fuzztime "$fuzztime" ./values/
	go test -run '^$' -fuzz '^FuzzRequestDecoding$' -fuzztime "$fuzztime" ./api/
fi
