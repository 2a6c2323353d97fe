'use strict';
// Fresh PostgreSQL databases for spawned servers when BASALT_TEST_STORE=postgres: one per
// server, `basalt_t_<random>` on BASALT_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/postgres), dropped when the server stops (and, as a safety
// net, when this process exits). Uses the `psql` client, so no npm package is needed.

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');

const ADMIN_URL = process.env.BASALT_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const live = new Set();

/** Whether spawned servers run on PostgreSQL. */
function onPostgres() {
  return process.env.BASALT_TEST_STORE === 'postgres';
}

function psql(sql) {
  execFileSync('psql', [ADMIN_URL, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Creates a database; returns {name, uri}. Throws (naming the server) when unreachable. */
function createDatabase() {
  const name = `basalt_t_${crypto.randomBytes(8).toString('hex')}`;
  try {
    try {
      // A linguistic default collation where the server has ICU, as the Rust tests use.
      psql(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`);
    } catch {
      psql(`CREATE DATABASE ${name}`);
    }
  } catch (err) {
    const why = err.stderr ? err.stderr.toString().trim() : err.message;
    throw new Error(`BASALT_TEST_STORE=postgres, but no database could be created on ${ADMIN_URL}: ${why}`);
  }
  live.add(name);
  const uri = new URL(ADMIN_URL);
  uri.pathname = `/${name}`;
  return { name, uri: uri.toString() };
}

/** Drops a database made by createDatabase (its server should have stopped). */
function dropDatabase(db) {
  if (!db || !live.has(db.name)) return;
  live.delete(db.name);
  try {
    psql(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
  } catch (err) {
    process.stderr.write(`warning: test database ${db.name} was not dropped: ${err.message}\n`);
  }
}

process.on('exit', () => {
  for (const name of [...live]) dropDatabase({ name });
});

module.exports = { onPostgres, createDatabase, dropDatabase };
