#!/bin/sh
# One-shot (docker-compose.yml service temporal-schema, image temporalio/admin-tools): creates Temporal's
# two PostgreSQL databases and brings their schemas to the version the admin-tools image ships, which is the
# version of the pinned temporalio/server image (keep both tags equal). Safe to run on every `up`: an
# existing database is kept and update-schema only applies what is missing. Any failure stops the script
# with a non-zero exit, so `temporal` (which waits for this service to complete successfully) never starts
# on a database it cannot use.
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER to the PostgreSQL user}"
: "${POSTGRES_PASSWORD_FILE:?set POSTGRES_PASSWORD_FILE to the file holding the PostgreSQL password}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

# temporal-sql-tool reads the password from SQL_PASSWORD; it comes from the mounted secret, never from the
# compose file.
SQL_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
export SQL_PASSWORD

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  dir="$SCHEMA_ROOT/${pair#*:}/versioned"
  if sql --db "$db" update-schema -d "$dir"; then
    echo "temporal-schema: $db is at the current schema version"
    continue
  fi
  # First start (no database, or a database without Temporal's schema after an interrupted first start):
  # create it when missing, then set the schema up from scratch. A failure here ends the script.
  echo "temporal-schema: $db has no Temporal schema yet: creating it"
  if ! sql --db "$db" create; then
    echo "temporal-schema: $db exists already; setting up its schema"
  fi
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$dir"
  echo "temporal-schema: $db created at the current schema version"
done
