#!/usr/bin/env bash
# Development helper while nothing has shipped: rebuild the single `init` migration of both
# providers from prisma/schema.prisma (SQLite on a scratch file, PostgreSQL on a scratch database).
# Once a release has shipped, add new migrations with `npm run db:migrate -- NAME` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
scratch="pc_regen_$$_$RANDOM"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
node scripts/gen-pg-schema.mjs
npx prisma generate --schema prisma/schema.prisma >/dev/null
npx prisma generate --schema prisma/postgresql/schema.prisma >/dev/null
rm -rf prisma/migrations/2* prisma/postgresql/migrations/2*
DATABASE_URL="file:$tmp/regen.db" node scripts/prisma-wasm.mjs create init
node -e "
const { Client } = require('pg'); const c = new Client({ connectionString: process.argv[1] });
c.connect().then(() => c.query('CREATE DATABASE $scratch')).then(() => c.end())" "$PG_ADMIN"
DATABASE_URL="${PG_ADMIN%/*}/$scratch" node scripts/prisma-wasm.mjs create init
# Same folder name on both providers, so _prisma_migrations reads the same everywhere.
mv prisma/migrations/2*_init prisma/migrations/20261122000000_init
mv prisma/postgresql/migrations/2*_init prisma/postgresql/migrations/20261122000000_init
ls prisma/migrations prisma/postgresql/migrations
