'use strict';
// OWASP API8:2023 — Security Misconfiguration.
//
// Attacks: provoking internal errors and reading them for stack traces, SQL or file paths;
// probing CORS for a reflected origin with credentials; using the master key from an address
// outside --master-key-ips (a private server started with --master-key-ips 10.0.0.1, and one
// listening on a non-loopback address with the default list), including with spoofed
// X-Forwarded-For / X-Real-IP / Forwarded headers; reading the generated keys file; looking for
// version banners in headers; looking for secrets (master key, passwords, session tokens) in
// the server's log.
//
// Must hold: a 500 is exactly {"code":1,"message":"Internal server error."}; CORS never pairs a
// reflected origin with credentials; the master and read-only master keys are refused
// (403 {"error":"unauthorized"}) from a disallowed address whatever the proxy headers say, and
// nothing changes; keys.toml is mode 0600; no header names the server software or version;
// secrets never reach the log. World-readable database files are in findings.test.js.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, INTERNAL, UNAUTHORIZED, rw, signUp, uniqueClass } = h;

const server = h.useServer();

const LEAKY = /SELECT |INSERT |sqlite|rusqlite|anyhow|panicked|backtrace|\.rs:\d|\/work\/|\/home\/|\/tmp\/|basalt_(core|store|engine|api)|tokio|thread '/i;

test('an internal error answers exactly {"code":1,"message":"Internal server error."} and nothing more', async () => {
  const u = await signUp();
  const C = uniqueClass('Boom');
  const mine = await h.create(C, { v: 1 }, { sessionToken: u.token });
  const locked = await h.create(C, { v: 1, ACL: {} }, { master: true });
  // a transactional batch that fails part-way is reported by Parse as its generic internal error
  const tx = await rest('POST', '/batch', {
    sessionToken: u.token,
    body: {
      transaction: true,
      requests: [
        { method: 'PUT', path: `/parse/classes/${C}/${mine}`, body: { v: 2 } },
        { method: 'PUT', path: `/parse/classes/${C}/${locked}`, body: { v: 2 } },
      ],
    },
  });
  assert.equal(tx.status, 500);
  assert.deepEqual(tx.body, INTERNAL);
  assert.match(tx.headers.get('content-type'), /^application\/json/);
  assert.equal((await h.masterGet(C, mine)).v, 1);
  // whatever else makes basalt fail inside answers the same envelope and leaks nothing
  const triggers = [
    ['GET', `/classes/${C}`, { where: { 'obj.x\u0000': 1 } }],
    ['GET', `/classes/${C}`, { where: { $or: Array.from({ length: 1500 }, (_, i) => ({ v: i })) } }],
    ['GET', `/classes/${C}`, { where: { v: { $all: Array.from({ length: 1200 }, (_, i) => i) } } }],
  ];
  for (const [method, p, query] of triggers) {
    const r = await rest(method, p, { query });
    if (r.status >= 500) {
      assert.deepEqual(r.body, INTERNAL, r.text);
    }
    assert.ok(!LEAKY.test(r.text), `${p} ${JSON.stringify(query).slice(0, 80)} leaks: ${r.text}`);
  }
  // the cause went to the log instead
  assert.ok(/ERROR|error/.test(server.stderr), 'the internal error was logged');
});

test('client errors carry a Parse code and message, never internals', async () => {
  const C = uniqueClass('Err');
  await h.create(C, { n: 1, s: 'x' });
  const bad = [
    ['GET', `/classes/${C}`, { query: { where: '{bad' } }],
    ['GET', `/classes/${C}`, { query: { where: { n: { $foo: 1 } } } }],
    ['GET', `/classes/${C}`, { query: { where: { s: { $regex: '(' } } } }],
    ['GET', `/classes/${C}`, { query: { order: 'a;DROP TABLE x' } }],
    ['GET', '/classes/Bad%00Name'],
    ['POST', `/classes/${C}`, { body: { n: 'string' } }],
    ['POST', `/classes/${C}`, { body: '{"n":', contentType: 'application/json' }],
    ['PUT', `/classes/${C}/nope`, { body: { n: { __op: 'Nope' } } }],
    ['POST', '/batch', { body: { requests: [{ method: 'GET', path: '/elsewhere/classes/X' }] } }],
    ['POST', '/batch', { body: { requests: 'nope' } }],
  ];
  for (const [method, p, opts] of bad) {
    const r = await rest(method, p, opts || {});
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${p}: ${r.status} ${r.text}`);
    assert.equal(typeof r.body, 'object', r.text);
    assert.equal(typeof r.body.error, 'string', r.text);
    assert.ok(!LEAKY.test(r.text), `${method} ${p} leaks: ${r.text}`);
  }
});

test('CORS: any origin may call (the API authenticates by headers) but credentials are never allowed', async () => {
  const origin = 'https://evil.example';
  const pre = await fetch(`${server.url}/classes/X`, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'x-parse-session-token,x-parse-application-id,content-type',
    },
  });
  assert.ok(pre.status === 200 || pre.status === 204, `preflight ${pre.status}`);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.equal(pre.headers.get('access-control-allow-credentials'), null);
  const allowed = (pre.headers.get('access-control-allow-headers') || '').toLowerCase();
  assert.ok(allowed === '*' || allowed.includes('x-parse-session-token'), allowed);
  const actual = await fetch(`${server.url}/health`, { headers: { Origin: origin, Cookie: 'session=abc' } });
  assert.equal(actual.headers.get('access-control-allow-origin'), '*');
  assert.equal(actual.headers.get('access-control-allow-credentials'), null);
  assert.equal(actual.headers.get('set-cookie'), null);
});

test('no response names the server software or version', async () => {
  const u = await signUp();
  for (const [method, p, opts] of [
    ['GET', '/health', { noAuth: true }],
    ['GET', '/nope'],
    ['POST', '/login', { body: { username: u.username, password: u.password } }],
    ['GET', '/classes/X', { headers: { 'X-Parse-Application-Id': 'wrong' } }],
  ]) {
    const r = await rest(method, p, opts || {});
    for (const name of ['server', 'x-powered-by', 'x-aspnet-version', 'x-runtime', 'via']) {
      assert.equal(r.headers.get(name), null, `${p}: ${name}: ${r.headers.get(name)}`);
    }
    for (const [k, v] of r.headers) assert.ok(!/basalt|axum|hyper|tower|\d+\.\d+\.\d+/i.test(`${k}: ${v}`) || k === 'date', `${p}: ${k}: ${v}`);
  }
});

test('the master key from a disallowed address is refused (403 unauthorized) whatever the proxy headers say', async () => {
  const other = await h.spawnBasalt({
    args: ['--master-key-ips', '10.0.0.1', '--read-only-master-key', 'sec-ro-key'],
  });
  try {
    const owner = await signUp({}, other.rest);
    const C = uniqueClass('Ips');
    const id = await h.create(C, { v: 1, ACL: { [owner.id]: rw } }, { sessionToken: owner.token }, other.rest);
    const spoofs = [
      {},
      { 'X-Forwarded-For': '10.0.0.1' },
      { 'X-Real-IP': '10.0.0.1' },
      { Forwarded: 'for=10.0.0.1' },
      { 'X-Forwarded-For': '10.0.0.1, 127.0.0.1' },
      { 'X-Client-IP': '10.0.0.1', 'True-Client-IP': '10.0.0.1', 'CF-Connecting-IP': '10.0.0.1' },
    ];
    for (const key of [other.masterKey, 'sec-ro-key']) {
      for (const spoof of spoofs) {
        const headers = { 'X-Parse-Master-Key': key, ...spoof };
        for (const [method, p, body] of [
          ['GET', '/schemas'],
          ['GET', `/classes/${C}/${id}`],
          ['DELETE', `/classes/${C}/${id}`],
          ['DELETE', `/purge/${C}`],
          ['POST', '/loginAs', { userId: owner.id }],
          ['GET', '/serverInfo'],
        ]) {
          const r = await other.rest(method, p, { headers, body });
          h.expectError(r, 403, UNAUTHORIZED, `${method} ${p} ${JSON.stringify(spoof)}`);
        }
      }
      const tunnelled = await other.rest('POST', `/classes/${C}/${id}`, {
        noAuth: true,
        body: JSON.stringify({ _method: 'DELETE', _ApplicationId: other.appId, _MasterKey: key }),
      });
      h.expectError(tunnelled, 403, UNAUTHORIZED, 'tunnelled');
    }
    // nothing was deleted, and no impersonation session was made
    assert.equal((await other.rest('GET', `/classes/${C}/${id}`, { sessionToken: owner.token })).body.v, 1);
    const sessions = await other.rest('GET', '/sessions', { sessionToken: owner.token });
    assert.equal(sessions.body.results.length, 1);
    // clients without the master key are served normally
    assert.equal((await other.rest('GET', `/classes/${C}`)).status, 200);
  } finally {
    await other.stop();
  }
});

test('by default the master key is refused from a non-loopback address', async (t) => {
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!external) {
    t.skip('no non-loopback IPv4 address on this machine');
    return;
  }
  const other = await h.spawnBasalt({ listen: `${external.address}:0` });
  try {
    assert.ok(other.url.includes(external.address), other.url);
    h.expectError(await other.rest('GET', '/schemas', { master: true }), 403, UNAUTHORIZED);
    h.expectError(await other.rest('POST', `/schemas/${uniqueClass('Ext')}`, { master: true, body: {} }), 403, UNAUTHORIZED);
    assert.equal((await other.rest('GET', '/health', { noAuth: true })).status, 200);
    assert.equal((await other.rest('GET', '/classes/Anything')).status, 200);
  } finally {
    await other.stop();
  }
});

test('first-start key generation writes keys.toml with mode 0600, and the keys work', async () => {
  const other = await h.spawnBasalt({ keys: false });
  try {
    const file = path.join(other.dataDir, 'keys.toml');
    const mode = fs.statSync(file).mode & 0o777;
    assert.equal(mode, 0o600, `keys.toml mode ${mode.toString(8)}`);
    assert.ok(other.masterKey.length >= 32, 'the generated master key is long');
    assert.notEqual(other.masterKey, other.appId);
    assert.equal((await other.rest('GET', '/schemas', { master: true })).status, 200);
    h.expectError(await other.rest('GET', '/schemas', { headers: { 'X-Parse-Master-Key': other.appId } }), 403, h.MASTER_REQUIRED);
  } finally {
    await other.stop();
  }
});

test('a wrong application id is refused even when the master key is right', async () => {
  const r = await rest('GET', '/schemas', { noAuth: true, headers: { 'X-Parse-Application-Id': 'other-app', 'X-Parse-Master-Key': server.masterKey } });
  h.expectError(r, 403, UNAUTHORIZED);
  const none = await rest('GET', '/schemas', { noAuth: true, headers: { 'X-Parse-Master-Key': server.masterKey } });
  h.expectError(none, 403, UNAUTHORIZED);
});

test('secrets never reach the log: master key, passwords, session tokens', async () => {
  const password = `Log-Secret-${h.rnd()}`;
  const u = await signUp({ password });
  const login = await rest('POST', '/login', { body: { username: u.username, password } });
  const token = login.body.sessionToken;
  await rest('GET', '/users/me', { sessionToken: token });
  await rest('GET', `/login?username=${u.username}&password=${password}`);
  await rest('POST', '/login', { body: { username: u.username, password: `${password}-wrong` } });
  await rest('GET', '/schemas', { master: true });
  await rest('POST', '/batch', { sessionToken: token, body: { transaction: true, requests: [{ method: 'PUT', path: '/parse/classes/X/nope', body: { password } }] } });
  await h.sleep(200);
  const log = server.stderr;
  assert.ok(log.length > 0, 'basalt logged something');
  for (const secret of [server.masterKey, password, token, token.slice(2), u.token]) {
    assert.ok(!log.includes(secret), `the log contains a secret (${secret.slice(0, 6)}…)`);
  }
});
