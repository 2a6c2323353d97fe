'use strict';
// Starts the server under test (once per test file) and configures the official
// Parse JavaScript SDK (parse/node) against it.
//
// Two modes:
//  1. External server: env PARSE_SERVER_URL (e.g. http://127.0.0.1:1340/parse) with
//     PARSE_APP_ID, PARSE_MASTER_KEY and optionally PARSE_JS_KEY / PARSE_REST_API_KEY.
//  2. Otherwise spawn basalt: BASALT_BIN (default <repo>/target/debug/basalt) with
//     `serve --listen 127.0.0.1:0 --data-dir <fresh temp dir> --app-id ID --master-key KEY`
//     (`--database-uri $BASALT_TEST_DATABASE_URI` replaces `--data-dir` when that env is set;
//     `--javascript-key K` / `--rest-api-key K` are added when a test file asks for keys).
//     With BASALT_TEST_STORE=postgres, each spawned server also gets `--database-uri` for a
//     fresh PostgreSQL database (helpers/postgres.js), dropped when the server stops.
//     basalt prints `listening on http://127.0.0.1:PORT/parse` on stdout.
//  PARSE_KNOWN_DEVIATIONS=todo reports the tests listed in KNOWN-DEVIATIONS.md as TODO (for runs
//  against Parse Server on PostgreSQL, which lacks those MongoDB behaviours).
//
// Usage in a test file:
//   const { test, useServer, rest, uniqueClass, Parse } = require('../helpers/server');
//   const server = useServer();            // registers before/after hooks
//   test('...', async () => { server.url; await rest('GET', '/health'); });

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const nodeTest = require('node:test');
const { before, after } = nodeTest;
const Parse = require('parse/node');
const postgres = require('./postgres');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_BIN = path.join(REPO_ROOT, 'target', 'debug', 'basalt');
const START_TIMEOUT_MS = 20000;

const DEFAULT_APP_ID = 'basalt-sdk-app';
const DEFAULT_MASTER_KEY = 'basalt-sdk-master';

// The live configuration of the server this test file talks to.
const ctx = {
  url: null,
  appId: null,
  masterKey: null,
  javascriptKey: undefined,
  restApiKey: undefined,
  external: false,
  child: null,
  dataDir: null,
  database: null,
  stderr: '',
};

function configureSdk() {
  Parse.initialize(ctx.appId, ctx.javascriptKey);
  Parse.serverURL = ctx.url;
  Parse.masterKey = ctx.masterKey;
}

function waitForListening(child) {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let done = false;
    const finish = (err, url) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.removeListener('data', onData);
      child.removeListener('close', onExit);
      child.removeListener('error', onError);
      if (err) reject(err);
      else resolve(url);
    };
    const describe = (why) =>
      new Error(
        `${why}\n--- basalt stdout ---\n${stdout}\n--- basalt stderr ---\n${ctx.stderr}`
      );
    const onData = (chunk) => {
      stdout += chunk.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(stdout);
      if (m) finish(null, m[1].replace(/\/+$/, ''));
    };
    const onExit = (code, signal) =>
      finish(describe(`basalt exited before listening (code ${code}, signal ${signal})`));
    const onError = (err) => finish(describe(`could not start basalt: ${err.message}`));
    const timer = setTimeout(
      () => finish(describe(`basalt did not print "listening on ..." within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS
    );
    child.stdout.on('data', onData);
    child.on('close', onExit); // 'close' comes after stdout/stderr are drained, so stderr is complete
    child.on('error', onError);
  });
}

/**
 * Start (or attach to) the server under test.
 * opts.args / opts.env: extra command-line arguments and environment variables for basalt.
 * opts.alwaysBasalt: spawn basalt even when PARSE_SERVER_URL names an external server (for
 * files that configure the server themselves, like test/social.test.js).
 * opts.javascriptKey / opts.restApiKey: ask for client keys to be configured. Against an
 * external server the keys come from PARSE_JS_KEY / PARSE_REST_API_KEY instead; when a key
 * the file asked for is not configured there, `ctx.missingKeys` lists it (tests skip).
 */
async function startServer(opts = {}) {
  ctx.missingKeys = [];
  if (process.env.PARSE_SERVER_URL && !opts.alwaysBasalt) {
    ctx.external = true;
    ctx.url = process.env.PARSE_SERVER_URL.replace(/\/+$/, '');
    ctx.appId = process.env.PARSE_APP_ID || DEFAULT_APP_ID;
    ctx.masterKey = process.env.PARSE_MASTER_KEY || DEFAULT_MASTER_KEY;
    ctx.javascriptKey = process.env.PARSE_JS_KEY || undefined;
    ctx.restApiKey = process.env.PARSE_REST_API_KEY || undefined;
    if (opts.javascriptKey && !ctx.javascriptKey) ctx.missingKeys.push('javascriptKey');
    if (opts.restApiKey && !ctx.restApiKey) ctx.missingKeys.push('restApiKey');
    configureSdk();
    return ctx;
  }

  ctx.external = false;
  ctx.appId = DEFAULT_APP_ID;
  ctx.masterKey = DEFAULT_MASTER_KEY;
  ctx.javascriptKey = opts.javascriptKey || undefined;
  ctx.restApiKey = opts.restApiKey || undefined;
  const bin = process.env.BASALT_BIN || DEFAULT_BIN;
  const args = ['serve', '--listen', '127.0.0.1:0'];
  if (process.env.BASALT_TEST_DATABASE_URI) {
    args.push('--database-uri', process.env.BASALT_TEST_DATABASE_URI);
  } else {
    ctx.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'basalt-sdk-'));
    args.push('--data-dir', ctx.dataDir);
    if (postgres.onPostgres()) {
      ctx.database = postgres.createDatabase();
      args.push('--database-uri', ctx.database.uri);
    }
  }
  args.push('--app-id', ctx.appId, '--master-key', ctx.masterKey);
  if (ctx.javascriptKey) args.push('--javascript-key', ctx.javascriptKey);
  if (ctx.restApiKey) args.push('--rest-api-key', ctx.restApiKey);
  if (opts.args) args.push(...opts.args);

  ctx.stderr = '';
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  ctx.child = child;
  child.stderr.on('data', (chunk) => {
    ctx.stderr += chunk.toString();
    if (ctx.stderr.length > 200000) ctx.stderr = ctx.stderr.slice(-100000);
  });
  // Make a crash mid-run visible (the tests then fail on connection errors), and never leave
  // basalt running behind this test process.
  child.once('exit', (code, signal) => {
    if (ctx.child === child && ctx.url) {
      process.stderr.write(
        `basalt exited during the tests (code ${code}, signal ${signal}); stderr tail:\n${ctx.stderr.slice(-4000)}\n`
      );
    }
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  ctx.url = null;
  try {
    ctx.url = await waitForListening(child);
  } catch (err) {
    await stopServer();
    throw err;
  }
  child.stdout.resume(); // keep draining stdout so the child never blocks on a full pipe
  configureSdk();
  return ctx;
}

async function stopServer() {
  const child = ctx.child;
  ctx.child = null;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  if (ctx.dataDir) {
    fs.rmSync(ctx.dataDir, { recursive: true, force: true });
    ctx.dataDir = null;
  }
  if (ctx.database) {
    postgres.dropDatabase(ctx.database);
    ctx.database = null;
  }
}

/** Registers before/after hooks for the current test file and returns the live ctx. */
function useServer(opts = {}) {
  before(async () => {
    await startServer(opts);
  });
  after(async () => {
    await stopServer();
  });
  return ctx;
}

// Parse Server destroys the keep-alive socket right after some of its error responses (its
// "Permission denied" 403s go through Express's error handler once the body is sent). The next
// request that fetch writes on that pooled socket then fails with "other side closed" before the
// server has read it. Such a request never reached the server, so it is safe to send it again.
async function fetchWithSocketRetry(url, init) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fetch(url, init);
    } catch (err) {
      const code = err && err.cause && err.cause.code;
      const stale = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
      if (!stale || attempt >= 2) throw err;
    }
  }
}

/**
 * Raw REST call against the server under test.
 *   rest('POST', '/classes/Foo', { body: {a: 1}, master: true })
 * opts.body: object (sent as JSON) or string (sent verbatim).
 * opts.query: object of query-string params (objects are JSON-encoded).
 * opts.headers: extra headers (override the defaults).
 * opts.master: send X-Parse-Master-Key.
 * opts.sessionToken: send X-Parse-Session-Token.
 * opts.noAuth: send no X-Parse-* headers at all (only opts.headers).
 * opts.contentType: override Content-Type.
 * Returns { status, body, headers, text } — body is parsed JSON when possible.
 */
async function rest(method, p, opts = {}) {
  let url = ctx.url + p;
  if (opts.query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      qs.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    url += (url.includes('?') ? '&' : '?') + qs.toString();
  }
  const headers = {};
  if (!opts.noAuth) {
    headers['X-Parse-Application-Id'] = ctx.appId;
    if (ctx.javascriptKey) headers['X-Parse-Javascript-Key'] = ctx.javascriptKey;
    if (opts.master) headers['X-Parse-Master-Key'] = ctx.masterKey;
    if (opts.sessionToken) headers['X-Parse-Session-Token'] = opts.sessionToken;
  }
  let body;
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string') {
      body = opts.body;
      headers['Content-Type'] = 'text/plain';
    } else {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
  }
  if (opts.contentType) headers['Content-Type'] = opts.contentType;
  Object.assign(headers, opts.headers || {});
  const res = await fetchWithSocketRetry(url, { method, headers, body });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

let classCounter = 0;
/** A class name unique to this process and run: `${prefix}_${n}_${random}`. */
function uniqueClass(prefix = 'T') {
  classCounter += 1;
  return `${prefix}_${classCounter}_${crypto.randomBytes(4).toString('hex')}`;
}

/** Await a promise expected to reject with a Parse.Error; returns the error. */
async function parseError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}

// Tests listed under KNOWN_PG_DEVIATIONS in KNOWN-DEVIATIONS.md assert MongoDB-backed Parse
// semantics that Parse Server on PostgreSQL does not have. With PARSE_KNOWN_DEVIATIONS=todo
// (for runs against the PostgreSQL reference) they are reported as TODO instead of failing.
function loadKnownDeviations() {
  const names = new Set();
  let text = '';
  try {
    text = fs.readFileSync(path.join(__dirname, '..', 'KNOWN-DEVIATIONS.md'), 'utf8');
  } catch {
    return names;
  }
  let inList = false;
  for (const line of text.split('\n')) {
    if (/^#+\s/.test(line)) inList = /KNOWN_PG_DEVIATIONS/.test(line);
    const m = inList && /^\s*[-*]\s+(?:\S+\s+\u203a\s+)?`([^`]+)`/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}
const KNOWN_PG_DEVIATIONS = loadKnownDeviations();

/** node:test's test(), aware of the known Parse-on-PostgreSQL deviations. */
function test(name, fn) {
  if (process.env.PARSE_KNOWN_DEVIATIONS === 'todo' && KNOWN_PG_DEVIATIONS.has(name)) {
    return nodeTest.test(name, { todo: 'known Parse-on-PostgreSQL deviation, see KNOWN-DEVIATIONS.md' }, fn);
  }
  return nodeTest.test(name, fn);
}

const OBJECT_ID_RE = /^[A-Za-z0-9]{10}$/;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

module.exports = {
  test,
  KNOWN_PG_DEVIATIONS,
  Parse,
  ctx,
  useServer,
  startServer,
  stopServer,
  rest,
  uniqueClass,
  parseError,
  OBJECT_ID_RE,
  ISO_DATE_RE,
};
