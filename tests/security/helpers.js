'use strict';
// Shared pieces of the security suite. The server under test is started by the SDK suite's
// harness (../sdk/helpers/server.js: one basalt per test file, fresh data dir, fixed keys); the
// official `parse` SDK comes from ../sdk/node_modules through that harness. A test file that
// needs basalt configured differently sets the matching environment variables (basalt reads
// PARSE_SERVER_* / BASALT_* for every option) before the harness spawns it, or starts a second,
// private server with `spawnBasalt`.
//
// Nothing here weakens an assertion: helpers only build requests and read state back.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const harness = require('../sdk/helpers/server');
const postgres = require('../sdk/helpers/postgres');

const { ctx, rest, Parse } = harness;

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.BASALT_BIN || path.join(REPO_ROOT, 'target', 'debug', 'basalt');

/** Parse's generic answer for an internal error. */
const INTERNAL = { code: 1, message: 'Internal server error.' };
const NOT_FOUND = { code: 101, error: 'Object not found.' };
const INVALID_TOKEN = { code: 209, error: 'Invalid session token' };
const DENIED_119 = { code: 119, error: 'Permission denied' };
const MASTER_REQUIRED = { error: 'Permission denied' };
const UNAUTHORIZED = { error: 'unauthorized' };

const rw = { read: true, write: true };
const ptr = (className, objectId) => ({ __type: 'Pointer', className, objectId });
const userPtr = (id) => ptr('_User', id);

function rnd(n = 5) {
  return crypto.randomBytes(n).toString('hex');
}

/**
 * Signs a user up over REST (through the harness's server unless `via` is given).
 * Returns {id, token, username, password, email}.
 */
async function signUp(extra = {}, via = rest) {
  const username = `u_${rnd()}`;
  const password = `pw-${rnd(6)}`;
  const email = `${username}@example.com`;
  const r = await via('POST', '/users', { body: { username, password, email, ...extra } });
  assert.equal(r.status, 201, `sign-up failed: ${r.status} ${r.text}`);
  return { id: r.body.objectId, token: r.body.sessionToken, username, password, email };
}

/** Creates an object and returns its id (asserting 201). */
async function create(className, body, opts = {}, via = rest) {
  const r = await via('POST', `/classes/${className}`, { body, ...opts });
  assert.equal(r.status, 201, `create ${className} failed: ${r.status} ${r.text}`);
  return r.body.objectId;
}

/** The object as the master key sees it (null when it does not exist). */
async function masterGet(className, id, via = rest) {
  const p = className === '_User' ? `/users/${id}` : `/classes/${className}/${id}`;
  const r = await via('GET', p, { master: true });
  if (r.status === 404) return null;
  assert.equal(r.status, 200, `master read of ${className}/${id}: ${r.status} ${r.text}`);
  return r.body;
}

/** How many objects a class holds, counted with the master key. */
async function masterCount(className, where = {}, via = rest) {
  const r = await via('GET', `/classes/${className}`, { master: true, query: { where, count: 1, limit: 0 } });
  assert.equal(r.status, 200, `master count of ${className}: ${r.status} ${r.text}`);
  return r.body.count;
}

/** Asserts a REST answer is exactly the given status and body. */
function expectError(r, status, body, what = '') {
  assert.equal(r.status, status, `${what} status: ${r.status} ${r.text}`);
  assert.deepEqual(r.body, body, `${what} body: ${r.text}`);
}

/** Parse.Error expected from an SDK call; returns it. */
async function sdkError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('the SDK call was expected to fail but it succeeded');
}

/** Builds a `rest(method, path, opts)` like the harness's, for another server. */
function restFor(server) {
  return async function restOther(method, p, opts = {}) {
    let url = server.url + p;
    if (opts.query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) qs.set(k, typeof v === 'string' ? v : JSON.stringify(v));
      url += (url.includes('?') ? '&' : '?') + qs.toString();
    }
    const headers = {};
    if (!opts.noAuth) {
      headers['X-Parse-Application-Id'] = server.appId;
      if (opts.master) headers['X-Parse-Master-Key'] = server.masterKey;
      if (opts.sessionToken) headers['X-Parse-Session-Token'] = opts.sessionToken;
    }
    let body;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = typeof opts.body === 'string' ? 'text/plain' : 'application/json';
    }
    Object.assign(headers, opts.headers || {});
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  };
}

/**
 * Starts a private basalt with extra flags or environment (for configurations the per-file
 * server cannot have, e.g. --master-key-ips). Returns {url, appId, masterKey, dataDir, child,
 * stdout(), stderr(), rest, stop()}. `opts.keys === false` starts it without --app-id and
 * --master-key (first-start key generation); `opts.listen` replaces 127.0.0.1:0.
 */
async function spawnBasalt(opts = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'basalt-sec-'));
  const appId = `sec-app-${rnd(3)}`;
  const masterKey = `sec-master-${rnd(8)}`;
  const args = ['serve', '--listen', opts.listen || '127.0.0.1:0', '--data-dir', dataDir];
  // On PostgreSQL runs, a private server gets its own fresh database too.
  const database = postgres.onPostgres() ? postgres.createDatabase() : null;
  if (database) args.push('--database-uri', database.uri);
  if (opts.keys !== false) args.push('--app-id', appId, '--master-key', masterKey);
  args.push(...(opts.args || []));
  const env = { ...process.env };
  // A private server never inherits the per-file configuration of the harness's server.
  for (const k of Object.keys(env)) {
    if (/^(PARSE_SERVER_|BASALT_)/.test(k) && k !== 'BASALT_BIN') delete env[k];
  }
  Object.assign(env, opts.env || {});
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => {
    err += c.toString();
    if (err.length > 200000) err = err.slice(-100000);
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`basalt did not start:\n${out}\n${err}`)), 20000);
    child.stdout.on('data', (c) => {
      out += c.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`basalt exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
  const server = {
    url,
    appId,
    masterKey,
    dataDir,
    child,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      process.removeListener('exit', killOnExit);
      fs.rmSync(dataDir, { recursive: true, force: true });
      postgres.dropDatabase(database);
    },
  };
  if (opts.keys === false) {
    const keys = fs.readFileSync(path.join(dataDir, 'keys.toml'), 'utf8');
    server.appId = /app_id\s*=\s*"([^"]+)"/.exec(keys)[1];
    server.masterKey = /master_key\s*=\s*"([^"]+)"/.exec(keys)[1];
  }
  server.rest = restFor(server);
  return server;
}

/**
 * Writes `payload` on a raw TCP connection to the server and waits up to `waitMs` for it to
 * answer or close. Returns {closed, ms, response}.
 */
function rawExchange(serverUrl, payload, waitMs) {
  const u = new URL(serverUrl);
  return new Promise((resolve) => {
    const started = Date.now();
    let response = '';
    let done = false;
    const sock = net.connect(Number(u.port), u.hostname, () => sock.write(payload));
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ closed, ms: Date.now() - started, response });
    };
    sock.on('data', (d) => {
      response += d.toString('latin1');
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    const timer = setTimeout(() => finish(false), waitMs);
  });
}

/**
 * A local HTTP listener that records every connection made to it: the SSRF canary. Returns
 * {url, hits, close()}.
 */
async function canary() {
  const hits = [];
  const srv = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('{}');
  });
  srv.on('connection', () => hits.push('tcp-connect'));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((r) => srv.close(r)),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = {
  ...harness,
  ctx,
  rest,
  Parse,
  BIN,
  INTERNAL,
  NOT_FOUND,
  INVALID_TOKEN,
  DENIED_119,
  MASTER_REQUIRED,
  UNAUTHORIZED,
  rw,
  ptr,
  userPtr,
  rnd,
  signUp,
  create,
  masterGet,
  masterCount,
  expectError,
  sdkError,
  restFor,
  spawnBasalt,
  rawExchange,
  canary,
  sleep,
};
