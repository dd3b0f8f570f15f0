#!/bin/sh
# Part of `npm run setup`: PostgreSQL for the suites that run a real server of their own, `npm start -- --storage
# postgres` and `npm run bench:scale` (scripts/lib/postgres-server.ts starts them: initdb and pg_ctl, run as the
# `postgres` user when root). Installs Debian's package when no PostgreSQL is found; refuses, saying how, when it
# cannot (not root, no apt-get), since those suites fail without it.
set -eu
if [ -n "${PG_BIN_DIR:-}" ] && [ -x "$PG_BIN_DIR/initdb" ]; then exit 0; fi
for initdb in /usr/lib/postgresql/*/bin/initdb; do
  if [ -x "$initdb" ]; then exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== apt-get install postgresql (for the tests and the bench on PostgreSQL)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
  exit 0
fi
echo "PostgreSQL is not installed, and the tests on it run a real server: as root, npm run setup installs Debian's" >&2
echo "package (apt-get update && apt-get install -y postgresql); otherwise install PostgreSQL 13 or newer yourself" >&2
echo "and, when its initdb is not under /usr/lib/postgresql/<version>/bin, set PG_BIN_DIR to its directory." >&2
exit 1
