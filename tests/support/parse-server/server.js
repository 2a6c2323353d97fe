// Parse Server 9.10 on PostgreSQL, started by the import test (crates/basalt/tests/it/import.rs)
// so that `basalt import` is checked against a database the real Parse Server wrote.
// Settings come from the environment: PORT, DATABASE_URI, APP_ID, MASTER_KEY, FILES_DIR,
// LOG_LEVEL. Router 2.2.0 is pinned: Parse Server 9.10's /batch fails with router 2.3.
const http = require('http');
const express = require('express');
const { ParseServer } = require('parse-server');
const FSFilesAdapter = require('@parse/fs-files-adapter');

const env = (name, fallback) => process.env[name] || fallback;
const port = Number(env('PORT', '1351'));

async function main() {
  const parse = new ParseServer({
    databaseURI: env('DATABASE_URI', 'postgres://postgres@127.0.0.1:5432/parse_import'),
    appId: env('APP_ID', 'import'),
    masterKey: env('MASTER_KEY', 'importmaster'),
    masterKeyIps: ['127.0.0.1/32', '::1/128', '::ffff:127.0.0.1/128'],
    serverURL: `http://127.0.0.1:${port}/parse`,
    allowClientClassCreation: true,
    enableAnonymousUsers: true,
    logLevel: env('LOG_LEVEL', 'error'),
    silent: true,
    // On PostgreSQL, Parse keeps uploaded files on the local disk with this adapter.
    filesAdapter: new FSFilesAdapter({ filesSubDirectory: env('FILES_DIR', 'files') }),
  });
  await parse.start();
  const app = express();
  app.use('/parse', parse.app);
  http.createServer(app).listen(port, '127.0.0.1', () => {
    console.log(`parse-server listening on ${port}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
