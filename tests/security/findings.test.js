'use strict';
// Findings: attacks that once succeeded against basalt (or answered the wrong way), kept as
// regression tests. Tests still marked `todo` describe what remains open: they run on every
// suite run and report as TODO until fixed. Every title starts with the OWASP API Security
// Top 10 (2023) category and a severity, and each says what Parse Server 9.10 answers where
// that is the reference.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, rw, userPtr, ptr, signUp, create, masterGet, uniqueClass } = h;

const server = h.useServer();

const DENIED = { code: 119, error: 'Permission denied' };

test('[API1/API5 high] _Installation: clients cannot list, count or delete installations (119)', async () => {
  // Parse (SharedRest.enforceRoleSecurity): find and delete on _Installation need the master key.
  const token = `push-token-${h.rnd()}`;
  const inst = await rest('POST', '/installations', {
    body: { deviceType: 'android', installationId: `inst-${h.rnd()}`, deviceToken: token, pushType: 'gcm' },
  });
  assert.equal(inst.status, 201, inst.text);
  const u = await signUp();
  for (const opts of [{}, { sessionToken: u.token }]) {
    for (const p of ['/installations', '/classes/_Installation']) {
      const list = await rest('GET', p, opts);
      assert.ok(!list.text.includes(token), `${p} lists another device's push token: ${list.text.slice(0, 300)}`);
      h.expectError(list, 400, DENIED, `find ${p}`);
      h.expectError(await rest('GET', p, { ...opts, query: { count: 1, limit: 0 } }), 400, DENIED, `count ${p}`);
    }
    const batch = await rest('POST', '/batch', { ...opts, body: { requests: [{ method: 'GET', path: '/parse/classes/_Installation' }] } });
    assert.ok(!batch.text.includes(token), `batch lists the push token: ${batch.text.slice(0, 300)}`);
    h.expectError(await rest('DELETE', `/installations/${inst.body.objectId}`, opts), 400, DENIED, 'delete');
  }
  assert.ok(await masterGet('_Installation', inst.body.objectId), 'the installation was deleted by a client');
});

test('[API5 medium] master-only system classes (_PushStatus, _JobStatus, _JobSchedule, _Audience, _Idempotency) refuse clients (119)', async () => {
  for (const cls of ['_PushStatus', '_JobStatus', '_JobSchedule', '_Audience', '_Idempotency']) {
    const before = await rest('GET', `/classes/${cls}`, { master: true, query: { count: 1, limit: 0 } });
    h.expectError(await rest('GET', `/classes/${cls}`), 400, DENIED, `find ${cls}`);
    h.expectError(await rest('POST', `/classes/${cls}`, { body: { note: 'forged' } }), 400, DENIED, `create ${cls}`);
    const after = await rest('GET', `/classes/${cls}`, { master: true, query: { count: 1, limit: 0 } });
    assert.equal(after.body.count, before.body.count, `${cls}: a client created an object`);
  }
});

test('[API2 high] a deleted user\'s session token stops working everywhere (209), whoever deleted the user', async () => {
  // Parse: the session's user no longer exists, so the token resolves to no user: 209.
  for (const by of ['self', 'master']) {
    const u = await signUp();
    const C = uniqueClass('Deleted');
    const id = await create(C, { v: 1, ACL: { [u.id]: rw } }, { sessionToken: u.token });
    const del = by === 'self' ? await rest('DELETE', `/users/${u.id}`, { sessionToken: u.token }) : await rest('DELETE', `/users/${u.id}`, { master: true });
    assert.equal(del.status, 200, del.text);
    for (const [method, p, body] of [
      ['GET', `/classes/${C}/${id}`],
      ['PUT', `/classes/${C}/${id}`, { v: 2 }],
      ['POST', `/classes/${C}`, { v: 3 }],
      ['GET', '/sessions'],
    ]) {
      const r = await rest(method, p, { sessionToken: u.token, body });
      h.expectError(r, 400, h.INVALID_TOKEN, `${by}-deleted: ${method} ${p}`);
    }
    assert.equal((await masterGet(C, id)).v, 1);
    assert.equal(await h.masterCount(C), 1, 'the deleted user created an object');
  }
});

test('[API2 low] an expired session is refused even if it was used moments before it expired', async () => {
  // Parse keeps expiresAt with its cached sessions and refuses an expired one at once.
  const other = await h.spawnBasalt({ env: { PARSE_SERVER_SESSION_LENGTH: '2' } });
  try {
    const u = await signUp({}, other.rest);
    assert.equal((await other.rest('GET', '/users/me', { sessionToken: u.token })).status, 200);
    await h.sleep(3000);
    h.expectError(await other.rest('GET', '/users/me', { sessionToken: u.token }), 400, {
      code: 209,
      error: 'Session token is expired.',
    });
  } finally {
    await other.stop();
  }
});

test('[API3 high] a protected field (e-mail) cannot be extracted through $inQuery / $select sub-queries', async () => {
  // Parse runs sub-queries as the caller: a protected field in a sub-query's where is 119, and
  // a $select on it sees the field stripped (no value can match).
  const victim = await signUp({ ACL: { '*': { read: true } } });
  const mallory = await signUp();
  const C = uniqueClass('Oracle');
  const ref = await create(C, { owner: userPtr(victim.id), k: victim.email }, { sessionToken: mallory.token });
  const ask = (where) => rest('GET', `/classes/${C}`, { sessionToken: mallory.token, query: { where } });
  for (const op of ['$inQuery', '$notInQuery']) {
    for (const email of [victim.email, { $regex: `^${victim.email[0]}` }]) {
      const r = await ask({ owner: { [op]: { className: '_User', where: { objectId: victim.id, email } } } });
      h.expectError(r, 400, DENIED, `${op} ${JSON.stringify(email)}`);
    }
  }
  const sel = await ask({ k: { $select: { query: { className: '_User', where: {} }, key: 'email' } } });
  assert.ok(!sel.body.results || !sel.body.results.some((o) => o.objectId === ref), `$select matched the e-mail: ${sel.text}`);
  const dont = await ask({ k: { $dontSelect: { query: { className: '_User', where: {} }, key: 'email' } } });
  assert.ok(dont.status !== 200 || dont.body.results.some((o) => o.objectId === ref), `$dontSelect excluded by e-mail: ${dont.text}`);
  // end to end: character-by-character extraction recovers nothing
  let known = '';
  for (let i = 0; i < 8; i += 1) {
    let hit = null;
    for (const c of 'u_0123456789abcdef') {
      const r = await ask({ owner: { $inQuery: { className: '_User', where: { objectId: victim.id, email: { $regex: `^${known}${c}` } } } } });
      if (r.status === 200 && r.body.results.length) {
        hit = c;
        break;
      }
    }
    if (!hit) break;
    known += hit;
  }
  assert.equal(known, '', `extracted the start of the victim's e-mail: ${known}…`);
});

test('[API3 high] CLP protectedFields cannot be read through $inQuery / $select sub-queries', async () => {
  const C = uniqueClass('ProtSub');
  const clp = {
    find: { '*': true },
    get: { '*': true },
    count: { '*': true },
    create: { '*': true },
    update: { '*': true },
    delete: { '*': true },
    addField: { '*': true },
    protectedFields: { '*': ['secret'] },
  };
  const made = await rest('POST', `/schemas/${C}`, { master: true, body: { className: C, fields: { secret: { type: 'String' } }, classLevelPermissions: clp } });
  assert.equal(made.status, 200, made.text);
  const secret = `hunter-${h.rnd()}`;
  const id = await create(C, { secret });
  const P = uniqueClass('ProtSubRef');
  const pid = await create(P, { ref: ptr(C, id), k: secret });
  const u = await signUp();
  const ask = (where) => rest('GET', `/classes/${P}`, { sessionToken: u.token, query: { where } });
  h.expectError(await ask({ ref: { $inQuery: { className: C, where: { secret } } } }), 400, DENIED, '$inQuery');
  h.expectError(await ask({ ref: { $inQuery: { className: C, where: { secret: { $regex: '^hunter' } } } } }), 400, DENIED, '$inQuery regex');
  const sel = await ask({ k: { $select: { query: { className: C, where: {} }, key: 'secret' } } });
  assert.ok(!sel.body.results || !sel.body.results.some((o) => o.objectId === pid), `$select matched the protected value: ${sel.text}`);
});

test('[API3/API2 critical] authData of a public user cannot be probed through where: no anonymous-account takeover', async () => {
  // An anonymous user's authData.anonymous.id is its only credential. With a public-read ACL
  // (as the SDK tests create), a where on authData.anonymous.id lets anyone recover it
  // character by character and then log in as that user through POST /users.
  const id = `${h.rnd(4)}-${h.rnd(2)}-${h.rnd(2)}`;
  const victim = await rest('POST', '/users', { body: { authData: { anonymous: { id } }, ACL: { '*': { read: true } } } });
  assert.equal(victim.status, 201, victim.text);
  const vid = victim.body.objectId;
  const probes = [
    { 'authData.anonymous.id': id },
    { 'authData.anonymous.id': { $regex: `^${id.slice(0, 4)}` } },
    { 'authData.anonymous.id': { $in: [id] } },
    { 'authData.anonymous': { $exists: true } },
    { authData: { $exists: true } },
  ];
  for (const where of probes) {
    const r = await rest('GET', '/users', { query: { where: { objectId: vid, ...where } } });
    const found = r.status === 200 && r.body.results.some((o) => o.objectId === vid);
    assert.ok(!found, `a where on ${JSON.stringify(where)} tells whether it matches the victim's credential`);
  }
  // end to end
  let known = '';
  for (let i = 0; i < id.length; i += 1) {
    let hit = null;
    for (const c of '0123456789abcdef-') {
      const r = await rest('GET', '/users', { query: { where: { objectId: vid, 'authData.anonymous.id': { $regex: `^${known}${c}` } } } });
      if (r.status === 200 && r.body.results.length) {
        hit = c;
        break;
      }
    }
    if (!hit) break;
    known += hit;
  }
  const takeover = await rest('POST', '/users', { body: { authData: { anonymous: { id: known || 'nothing' } } } });
  assert.notEqual(takeover.body.objectId, vid, `recovered the anonymous id "${known}" and logged in as the victim`);
});

test('[API3 medium] a client-written "sessionToken" property on _User is never served back', async () => {
  // Parse strips sessionToken from every _User it returns (DatabaseController filterSensitiveData).
  const u = await signUp({ ACL: { '*': { read: true } } });
  const forged = `r:${'f'.repeat(32)}`;
  const put = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { sessionToken: forged } });
  assert.ok(put.status === 200 || put.status === 400, put.text);
  const other = await signUp();
  for (const [who, opts] of [['other user', { sessionToken: other.token }], ['anonymous', {}], ['master', { master: true }]]) {
    const get = await rest('GET', `/users/${u.id}`, opts);
    assert.ok(!get.text.includes(forged), `${who} is served the planted sessionToken: ${get.text}`);
    const find = await rest('GET', '/users', { ...opts, query: { where: { objectId: u.id } } });
    assert.ok(!find.text.includes(forged), `${who} find: ${find.text}`);
  }
  const me = await rest('GET', '/users/me', { sessionToken: u.token });
  assert.equal(me.body.sessionToken, u.token);
});

test('[API3/API7 high] authData for unconfigured providers is never stored (252), and a used anonymous id cannot be linked twice (208)', async () => {
  // Parse validates every provider in authData on sign-up and on update; unknown ones are 252.
  const usersBefore = await h.masterCount('_User');
  const mixed = await rest('POST', '/users', {
    body: { authData: { anonymous: { id: `a-${h.rnd()}` }, facebook: { id: 'victim-fb-id', access_token: 'forged' } } },
  });
  h.expectError(mixed, 400, { code: 252, error: 'This authentication method is unsupported.' }, 'sign-up anonymous+facebook');
  assert.equal(await h.masterCount('_User'), usersBefore, 'a user with unverified facebook authData was created');
  const u = await signUp();
  const link = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { authData: { facebook: { id: 'victim-fb-id', access_token: 'forged' } } } });
  h.expectError(link, 400, { code: 252, error: 'This authentication method is unsupported.' }, 'link facebook');
  const dotted = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { 'authData.github': { id: 'victim' } } });
  assert.equal(dotted.status, 400, `dotted authData update: ${dotted.text}`);
  const stored = await masterGet('_User', u.id);
  assert.equal(stored.authData, undefined, `unverified authData stored: ${JSON.stringify(stored.authData)}`);
  // an anonymous id that already belongs to someone
  const anonId = `anon-${h.rnd()}`;
  const owner = await rest('POST', '/users', { body: { authData: { anonymous: { id: anonId } } } });
  assert.equal(owner.status, 201);
  const steal = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { authData: { anonymous: { id: anonId } } } });
  h.expectError(steal, 400, { code: 208, error: 'this auth is already used' }, 'link a used anonymous id');
});

test('[API2 medium] /aggregate never returns password hashes or session secrets, even to the master key', async () => {
  // The SDK suite asserts _hashed_password never leaves the server, master key included; the
  // aggregation routes bypass that (distinct / $group / $project on internal columns).
  const u = await signUp();
  const asks = [
    ['_User', { distinct: '_hashed_password' }],
    ['_User', { pipeline: [{ $group: { _id: '$_hashed_password' } }] }],
    ['_User', { pipeline: [{ $project: { _hashed_password: 1, username: 1 } }] }],
    ['_User', { pipeline: [{ $match: { objectId: u.id } }] }],
    ['_Session', { distinct: 'sessionToken' }],
    ['_Session', { distinct: '_sealed_token' }],
    ['_Session', { pipeline: [{ $group: { _id: '$sessionToken' } }] }],
  ];
  for (const [cls, query] of asks) {
    const r = await rest('GET', `/aggregate/${cls}`, { master: true, query });
    assert.ok(!/\$argon2|\$2[aby]\$/.test(r.text), `${cls} ${JSON.stringify(query)} returns password hashes: ${r.text.slice(0, 200)}`);
    assert.ok(!/"[0-9a-f]{64}"/.test(r.text), `${cls} ${JSON.stringify(query)} returns token hashes: ${r.text.slice(0, 200)}`);
    assert.ok(!/"[0-9a-f]{100,}"/.test(r.text), `${cls} ${JSON.stringify(query)} returns sealed tokens: ${r.text.slice(0, 200)}`);
  }
});

test('[API4 medium] a request whose body or headers never finish is cut off after --request-timeout', async () => {
  // basalt documents "504 after --request-timeout seconds ... a stuck request must not hold a
  // connection forever" (docs/compat.md C7). The body is read before the timeout layer.
  const other = await h.spawnBasalt({ env: { BASALT_REQUEST_TIMEOUT: '2' } });
  try {
    const u = new URL(other.url);
    const slowBody =
      `POST ${u.pathname}/classes/Slow HTTP/1.1\r\nHost: ${u.host}\r\nX-Parse-Application-Id: ${other.appId}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":';
    const slowHeaders = `POST ${u.pathname}/classes/Slow HTTP/1.1\r\nHost: ${u.host}\r\nX-Parse-App`;
    const [body, headers] = await Promise.all([h.rawExchange(other.url, slowBody, 8000), h.rawExchange(other.url, slowHeaders, 35000)]);
    assert.ok(body.closed || body.response.length > 0, `an unfinished body held the connection for ${body.ms} ms with no answer`);
    assert.ok(headers.closed, `unfinished headers held the connection for ${headers.ms} ms`);
  } finally {
    await other.stop();
  }
});

test('[API4 low] large $in / $all lists, wide $or and NUL in a key path are answered (or refused with 4xx), not 500', async () => {
  // These reach SQLite's limits (32766 bound variables, expression depth 1000) and come back as
  // internal errors; Parse answers them (or refuses them with a Parse error).
  const C = uniqueClass('Wide');
  await create(C, { n: 1, obj: { x: 1 } });
  const viaBatch = (where) => rest('POST', '/batch', { body: { requests: [{ method: 'GET', path: `/parse/classes/${C}`, body: { where } }] } });
  const cases = [
    ['$in 40000', () => viaBatch({ n: { $in: Array.from({ length: 40000 }, (_, i) => i) } })],
    ['$nin 40000', () => viaBatch({ n: { $nin: Array.from({ length: 40000 }, (_, i) => i + 2) } })],
    ['$all 1000', () => viaBatch({ n: { $all: Array.from({ length: 1000 }, (_, i) => i) } })],
    ['$or 1100', () => rest('GET', `/classes/${C}`, { query: { where: { $or: Array.from({ length: 1100 }, (_, i) => ({ n: i })) } } })],
    ['NUL key', () => rest('GET', `/classes/${C}`, { query: { where: { 'obj.x\u0000': 1 } } })],
  ];
  const failures = [];
  for (const [name, run] of cases) {
    const r = await run();
    const item = Array.isArray(r.body) ? r.body[0] : null;
    const code = item ? (item.error ? item.error.code : 'ok') : r.body.code;
    if (r.status >= 500 || code === 1) failures.push(`${name}: ${r.status} ${r.text.slice(0, 120)}`);
  }
  assert.deepEqual(failures, []);
});

test('[API4 low] a transactional batch over the batch limit is refused as a client error (400 code 107), not 500', async () => {
  const other = await h.spawnBasalt({ env: { PARSE_SERVER_BATCH_REQUEST_LIMIT: '2' } });
  try {
    const requests = Array.from({ length: 3 }, (_, i) => ({ method: 'POST', path: '/parse/classes/Tx', body: { i } }));
    const r = await other.rest('POST', '/batch', { body: { requests, transaction: true } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.code, 107, r.text);
  } finally {
    await other.stop();
  }
});

test('[API8 low] the database files are not readable by other local users', async (t) => {
  if (!h.ctx.dataDir || h.ctx.database) {
    t.skip('SQLite only: on PostgreSQL (or BASALT_TEST_DATABASE_URI) the data is not in files in the data dir');
    return;
  }
  await signUp(); // make sure there are password hashes on disk
  const files = fs.readdirSync(h.ctx.dataDir).filter((f) => f.startsWith('basalt.db'));
  assert.ok(files.length > 0, 'the database files exist');
  for (const f of files) {
    const mode = fs.statSync(path.join(h.ctx.dataDir, f)).mode & 0o777;
    assert.equal(mode & 0o077, 0, `${f} is mode ${mode.toString(8)}: it holds password hashes and every user's data`);
  }
});

test('[API9 low] every path under the mount needs the application id (403), known or not', async () => {
  // Parse checks the application id before routing, so an unauthenticated caller cannot tell
  // routes that exist from routes that do not.
  for (const p of ['/debug/pprof/', '/files/a/b.txt', '/1/classes/X', '/classes/X/Y/Z', '/health/', '/serverInfo/']) {
    h.expectError(await rest('GET', p, { noAuth: true }), 403, h.UNAUTHORIZED, p);
  }
});

test('[API9 low] an unsupported method on a known path answers a JSON Parse error, not an empty 405', async () => {
  for (const [method, p] of [
    ['GET', '/batch'],
    ['POST', '/functions/hello'],
    ['POST', '/classes/X/abc'],
    ['PATCH', '/classes/X'],
    ['DELETE', '/login'],
  ]) {
    const r = await rest(method, p, { body: method === 'GET' ? undefined : {} });
    assert.ok(r.status >= 400, `${method} ${p}`);
    assert.equal(typeof r.body, 'object', `${method} ${p}: ${r.status} ${JSON.stringify(r.text)}`);
    assert.equal(typeof r.body.error, 'string', `${method} ${p}: ${r.text}`);
  }
});

test('[API8 low] refusals are sanitised like Parse\'s: "Permission denied", not the reason', async () => {
  // Parse 9 (enableSanitizedErrorResponse, default true) answers these with "Permission denied"
  // and logs the detail; basalt names the class or the read-only key in the answer.
  const other = await h.spawnBasalt({
    env: { PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION: 'false', PARSE_SERVER_READ_ONLY_MASTER_KEY: 'sec-ro' },
  });
  try {
    const C = uniqueClass('Sanitised');
    h.expectError(await other.rest('POST', `/classes/${C}`, { body: { a: 1 } }), 400, DENIED, 'client class creation');
    h.expectError(await other.rest('GET', `/classes/${C}`), 400, DENIED, 'find on a class that does not exist');
    h.expectError(await other.rest('POST', '/classes/Any', { headers: { 'X-Parse-Master-Key': 'sec-ro' }, body: { a: 1 } }), 400, DENIED, 'read-only create');
  } finally {
    await other.stop();
  }
});
