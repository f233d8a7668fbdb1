#!/bin/sh
# Creates Temporal's two PostgreSQL databases when missing and brings their
# schema to the server's version, with Temporal's SQL tool (in the
# temporalio/admin-tools image). It reads the same variables as the server
# (DB, POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, POSTGRES_PWD, DBNAME,
# VISIBILITY_DBNAME) and is safe to run at every start: a database already at
# the newest version is left alone. Without containers, `outflow server` does
# the same before it starts (--setup-schema).
set -eu

export SQL_PLUGIN="${DB:-postgres12}"
export SQL_HOST="${POSTGRES_SEEDS:?POSTGRES_SEEDS is not set}"
export SQL_PORT="${DB_PORT:-5432}"
export SQL_USER="${POSTGRES_USER:?POSTGRES_USER is not set}"
export SQL_PASSWORD="${POSTGRES_PWD:-}"

setup() {
  db="$1"
  schema="$2"
  temporal-sql-tool --db "$db" create-database --defaultdb postgres
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema --schema-name "$schema"
}

setup "${DBNAME:-temporal}" postgresql/v12/temporal
setup "${VISIBILITY_DBNAME:-temporal_visibility}" postgresql/v12/visibility
echo "Temporal schema is up to date in ${DBNAME:-temporal} and ${VISIBILITY_DBNAME:-temporal_visibility}"
