#!/usr/bin/env bash
# Start a throwaway MariaDB on loopback for the tests: `eval "$(bash scripts/mariadb-start.sh)"` exports
# SCRM_TEST_DATABASE_URL and MARIADB_PID. Data lives in a temp dir; no grant tables (loopback only). The InnoDB
# buffer pool is 1 GiB (MARIADB_BUFFER_POOL), as a production server sized for its data has: at the default 128 MiB
# the benches' 1,000,000-customer working set is read from disk, and a segment count measures the disk.
set -euo pipefail
port="${MARIADB_PORT:-3307}"
datadir="$(mktemp -d /tmp/scrm-mariadb.XXXXXX)"
mariadb-install-db --user=root --datadir="$datadir" --auth-root-authentication-method=normal \
  --skip-test-db >"$datadir.install.log" 2>&1
mariadbd --user=root --datadir="$datadir" --port="$port" --bind-address=127.0.0.1 \
  --socket="$datadir/mysqld.sock" --skip-grant-tables --skip-name-resolve \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
  --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size="${MARIADB_BUFFER_POOL:-1G}" \
  --log-error="$datadir.err" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  if mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$port" -u root ping >/dev/null 2>&1; then
    echo "export SCRM_TEST_DATABASE_URL=mysql+pymysql://root@127.0.0.1:$port/scrm_test MARIADB_PID=$pid"
    exit 0
  fi
  sleep 0.5
done
echo "MariaDB did not start; see $datadir.err" >&2
cat "$datadir.err" >&2 || true
exit 1
