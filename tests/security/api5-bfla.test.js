'use strict';
// OWASP API5:2023 — Broken Function Level Authorization.
//
// This file's basalt also has a read-only master key (PARSE_SERVER_READ_ONLY_MASTER_KEY).
//
// Attacks: an ordinary client (anonymous or signed in) calling the administrative functions —
// /schemas (read, create, change CLPs, delete), /purge, /aggregate, /serverInfo, /loginAs —
// directly, tunnelled through the SDK's POST envelope and smuggled inside /batch; the
// read-only master key trying every kind of write; a user promoting itself into a role
// (joining it, nesting its own role under it, or creating a second role with the same name);
// a client creating classes when the server forbids it; writing through a method-override
// header.
//
// Must hold: master-only routes answer 403 {"error":"Permission denied"} (Parse's sanitised
// answer) or 119 for /loginAs, and the schema, data and roles are unchanged afterwards (re-read
// with the master key); the read-only master key reads everything and writes nothing (119);
// role membership only changes for callers with write access on the role. Client access to
// _Installation and the other master-only system classes is in findings.test.js.
const RO_KEY = 'sec-read-only-master-key';
process.env.PARSE_SERVER_READ_ONLY_MASTER_KEY = RO_KEY;

const assert = require('node:assert/strict');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, Parse, MASTER_REQUIRED, NOT_FOUND, rw, userPtr, signUp, create, masterGet, uniqueClass } = h;

const server = h.useServer();

const DENIED = { code: 119, error: 'Permission denied' };
const ro = { headers: { 'X-Parse-Master-Key': RO_KEY } };

async function schemaOf(C) {
  const r = await rest('GET', `/schemas/${C}`, { master: true });
  return r.status === 200 ? r.body : null;
}

async function makeClass() {
  const C = uniqueClass('Admin');
  const r = await rest('POST', `/schemas/${C}`, {
    master: true,
    body: {
      className: C,
      fields: { v: { type: 'Number' } },
      classLevelPermissions: {
        find: { '*': true },
        get: { '*': true },
        count: { '*': true },
        create: {},
        update: {},
        delete: {},
        addField: {},
        protectedFields: {},
      },
    },
  });
  assert.equal(r.status, 200, r.text);
  const id = await create(C, { v: 1 }, { master: true });
  return { C, id, schema: await schemaOf(C) };
}

test('master-only routes refuse clients with 403 "Permission denied" and change nothing', async () => {
  const u = await signUp();
  const { C, id, schema } = await makeClass();
  const calls = [
    ['GET', '/schemas'],
    ['GET', `/schemas/${C}`],
    ['GET', '/schemas/_User'],
    ['POST', `/schemas/${uniqueClass('Evil')}`, { fields: { x: { type: 'String' } } }],
    ['POST', '/schemas', { className: uniqueClass('Evil'), fields: { x: { type: 'String' } } }],
    ['PUT', `/schemas/${C}`, { classLevelPermissions: { find: { '*': true }, create: { '*': true }, update: { '*': true } } }],
    ['PUT', `/schemas/${C}`, { fields: { v: { __op: 'Delete' } } }],
    ['PUT', '/schemas/_User', { classLevelPermissions: { protectedFields: { '*': [] } } }],
    ['DELETE', `/schemas/${C}`],
    ['DELETE', `/purge/${C}`],
    ['DELETE', '/purge/_User'],
    ['DELETE', '/purge/_Session'],
    ['GET', `/aggregate/${C}?distinct=v`],
    ['GET', `/aggregate/_User?distinct=email`],
    ['GET', `/aggregate/_User?pipeline=${encodeURIComponent(JSON.stringify([{ $group: { _id: '$email' } }]))}`],
    ['GET', '/serverInfo'],
  ];
  for (const opts of [{}, { sessionToken: u.token }]) {
    for (const [method, p, body] of calls) {
      h.expectError(await rest(method, p, { ...opts, body }), 403, MASTER_REQUIRED, `${method} ${p}`);
    }
  }
  assert.deepEqual(await schemaOf(C), schema);
  assert.equal((await masterGet(C, id)).v, 1);
  assert.equal(await h.masterCount('_User', { objectId: u.id }), 1);
  const created = await rest('GET', '/schemas', { master: true });
  assert.ok(!created.text.includes('Evil'), 'no Evil class was created');
});

test('the same functions through the SDK\'s tunnelled POST envelope are refused too', async () => {
  const { C, schema } = await makeClass();
  const env = (extra) => JSON.stringify({ _ApplicationId: server.appId, _ClientVersion: 'js8.6.0', ...extra });
  for (const [p, method, extra] of [
    [`/schemas/${C}`, 'GET', {}],
    [`/schemas/${C}`, 'PUT', { classLevelPermissions: { find: {} } }],
    [`/schemas/${C}`, 'DELETE', {}],
    [`/purge/${C}`, 'DELETE', {}],
    ['/serverInfo', 'GET', {}],
    [`/aggregate/${C}`, 'GET', { distinct: 'v' }],
    ['/schemas', 'GET', { _MasterKey: 'guess' }],
  ]) {
    const r = await rest('POST', p, { noAuth: true, body: env({ _method: method, ...extra }) });
    h.expectError(r, 403, MASTER_REQUIRED, `${method} ${p}`);
  }
  assert.deepEqual(await schemaOf(C), schema);
  // the SDK's Parse.Schema with a guessed master key
  const saved = Parse.masterKey;
  Parse.masterKey = 'guessed-master-key';
  try {
    const err = await h.sdkError(new Parse.Schema(C).get());
    assert.equal(err.message, 'Permission denied');
    const del = await h.sdkError(new Parse.Schema(C).purge());
    assert.equal(del.message, 'Permission denied');
  } finally {
    Parse.masterKey = saved;
  }
  assert.deepEqual(await schemaOf(C), schema);
});

test('/loginAs (impersonation) is refused without the master key: 119, and no session is made', async () => {
  const victim = await signUp();
  const mallory = await signUp();
  const sessions = async () => (await rest('GET', '/sessions', { master: true, query: { where: { user: userPtr(victim.id) }, count: 1, limit: 0 } })).body.count;
  const before = await sessions();
  for (const opts of [{}, { sessionToken: mallory.token }, ro, { headers: { 'X-Parse-Master-Key': 'nope' } }]) {
    const r = await rest('POST', '/loginAs', { ...opts, body: { userId: victim.id } });
    h.expectError(r, 400, DENIED, JSON.stringify(opts));
  }
  const tunnelled = await rest('POST', '/loginAs', {
    noAuth: true,
    body: JSON.stringify({ _ApplicationId: server.appId, _SessionToken: mallory.token, userId: victim.id }),
  });
  h.expectError(tunnelled, 400, DENIED);
  assert.equal(await sessions(), before);
});

test('schema changes and purges smuggled inside /batch are refused and change nothing', async () => {
  const { C, id, schema } = await makeClass();
  const u = await signUp();
  const evil = uniqueClass('Evil');
  for (const sub of [
    { method: 'POST', path: `/parse/schemas/${evil}`, body: { fields: { x: { type: 'String' } } } },
    { method: 'PUT', path: `/parse/schemas/${C}`, body: { classLevelPermissions: { create: { '*': true } } } },
    { method: 'DELETE', path: `/parse/schemas/${C}` },
    { method: 'DELETE', path: `/parse/purge/${C}` },
    { method: 'POST', path: '/parse/loginAs', body: { userId: u.id } },
    { method: 'GET', path: `/parse/aggregate/${C}`, body: { distinct: 'v' } },
    { method: 'POST', path: '/parse/batch', body: { requests: [] } },
  ]) {
    const r = await rest('POST', '/batch', { sessionToken: u.token, body: { requests: [sub] } });
    const refused = r.status >= 400 || (Array.isArray(r.body) && r.body[0] && r.body[0].error);
    assert.ok(refused, `${sub.method} ${sub.path}: ${r.status} ${r.text}`);
    assert.ok(!(Array.isArray(r.body) && r.body[0] && r.body[0].success), `${sub.method} ${sub.path} succeeded: ${r.text}`);
  }
  assert.deepEqual(await schemaOf(C), schema);
  assert.equal(await schemaOf(evil), null);
  assert.equal((await masterGet(C, id)).v, 1);
});

test('CLP-denied operations stay denied through REST, batch and the SDK (create/update/delete)', async () => {
  const { C, id } = await makeClass();
  const u = await signUp();
  for (const opts of [{}, { sessionToken: u.token }]) {
    h.expectError(await rest('POST', `/classes/${C}`, { ...opts, body: { v: 2 } }), 400, DENIED, 'create');
    h.expectError(await rest('PUT', `/classes/${C}/${id}`, { ...opts, body: { v: 2 } }), 400, DENIED, 'update');
    h.expectError(await rest('DELETE', `/classes/${C}/${id}`, opts), 400, DENIED, 'delete');
    const batch = await rest('POST', '/batch', {
      ...opts,
      body: {
        requests: [
          { method: 'POST', path: `/parse/classes/${C}`, body: { v: 3 } },
          { method: 'PUT', path: `/parse/classes/${C}/${id}`, body: { v: 3 } },
          { method: 'DELETE', path: `/parse/classes/${C}/${id}` },
        ],
      },
    });
    assert.deepEqual(batch.body, [{ error: DENIED }, { error: DENIED }, { error: DENIED }]);
  }
  const sdk = await h.sdkError(new Parse.Object(C).save({ v: 4 }, { sessionToken: u.token, useMasterKey: false }));
  assert.equal(sdk.code, Parse.Error.OPERATION_FORBIDDEN);
  assert.equal(await h.masterCount(C), 1);
  assert.equal((await masterGet(C, id)).v, 1);
});

test('the read-only master key reads everything but every write is refused (119) and nothing changes', async () => {
  const { C, id, schema } = await makeClass();
  const owner = await signUp();
  const privateId = await create(C, { v: 7, ACL: { [owner.id]: rw } }, { master: true });
  // it does read: private objects, schemas, aggregate, serverInfo
  assert.equal((await rest('GET', `/classes/${C}/${privateId}`, ro)).body.v, 7);
  assert.equal((await rest('GET', `/schemas/${C}`, ro)).status, 200);
  assert.equal((await rest('GET', `/aggregate/${C}`, { ...ro, query: { distinct: 'v' } })).status, 200);
  assert.equal((await rest('GET', '/serverInfo', ro)).status, 200);
  for (const [method, p, body] of [
    ['POST', `/classes/${C}`, { v: 9 }],
    ['PUT', `/classes/${C}/${id}`, { v: 9 }],
    ['DELETE', `/classes/${C}/${id}`],
    ['PUT', `/users/${owner.id}`, { password: 'taken-over' }],
    ['DELETE', `/users/${owner.id}`],
    ['POST', '/users', { username: `ro_${h.rnd()}`, password: 'pw' }],
    ['POST', '/roles', { name: uniqueClass('RoRole'), ACL: {} }],
  ]) {
    const r = await rest(method, p, { ...ro, body });
    assert.equal(r.status, 400, `${method} ${p}: ${r.text}`);
    assert.equal(r.body.code, 119, `${method} ${p}: ${r.text}`);
  }
  for (const [method, p, body] of [
    ['POST', `/schemas/${uniqueClass('RoNew')}`, {}],
    ['PUT', `/schemas/${C}`, { classLevelPermissions: { create: { '*': true } } }],
    ['DELETE', `/schemas/${C}`],
    ['DELETE', `/purge/${C}`],
  ]) {
    h.expectError(await rest(method, p, { ...ro, body }), 403, MASTER_REQUIRED, `${method} ${p}`);
  }
  const batch = await rest('POST', '/batch', {
    ...ro,
    body: {
      requests: [
        { method: 'POST', path: `/parse/classes/${C}`, body: { v: 9 } },
        { method: 'PUT', path: `/parse/classes/${C}/${id}`, body: { v: 9 } },
        { method: 'DELETE', path: `/parse/classes/${C}/${privateId}` },
      ],
    },
  });
  assert.equal(batch.status, 200);
  for (const item of batch.body) assert.equal(item.error && item.error.code, 119, batch.text);
  assert.deepEqual(await schemaOf(C), schema);
  assert.equal(await h.masterCount(C), 2);
  assert.equal((await masterGet(C, id)).v, 1);
  const login = await rest('POST', '/login', { body: { username: owner.username, password: owner.password } });
  assert.equal(login.status, 200, 'the user\'s password was not changed');
});

test('a user cannot join a role, nest its own role under it, or clone its name', async () => {
  const admin = await signUp();
  const mallory = await signUp();
  const name = uniqueClass('Admins');
  const role = await rest('POST', '/roles', {
    master: true,
    body: { name, ACL: { '*': { read: true } }, users: { __op: 'AddRelation', objects: [userPtr(admin.id)] } },
  });
  assert.equal(role.status, 201);
  const C = uniqueClass('AdminOnly');
  const secret = await create(C, { v: 'admin-only', ACL: { [`role:${name}`]: rw } }, { master: true });
  const members = async () =>
    (await rest('GET', '/users', { master: true, query: { where: { $relatedTo: { object: h.ptr('_Role', role.body.objectId), key: 'users' } } } })).body.results.map(
      (u) => u.objectId
    );
  const join = { users: { __op: 'AddRelation', objects: [userPtr(mallory.id)] } };
  h.expectError(await rest('PUT', `/roles/${role.body.objectId}`, { sessionToken: mallory.token, body: join }), 404, NOT_FOUND);
  h.expectError(await rest('PUT', `/classes/_Role/${role.body.objectId}`, { sessionToken: mallory.token, body: join }), 404, NOT_FOUND);
  const batch = await rest('POST', '/batch', {
    sessionToken: mallory.token,
    body: { requests: [{ method: 'PUT', path: `/parse/classes/_Role/${role.body.objectId}`, body: join }] },
  });
  assert.deepEqual(batch.body, [{ error: NOT_FOUND }]);
  // Mallory's own role, nested under Admins, would make her an admin: needs write on Admins
  const own = await rest('POST', '/roles', {
    sessionToken: mallory.token,
    body: { name: uniqueClass('Mine'), ACL: { [mallory.id]: rw }, users: { __op: 'AddRelation', objects: [userPtr(mallory.id)] } },
  });
  assert.equal(own.status, 201, own.text);
  const nest = { roles: { __op: 'AddRelation', objects: [h.ptr('_Role', own.body.objectId)] } };
  h.expectError(await rest('PUT', `/roles/${role.body.objectId}`, { sessionToken: mallory.token, body: nest }), 404, NOT_FOUND);
  // a second role with the same name would satisfy ACLs that say role:<name>
  for (const p of ['/roles', '/classes/_Role']) {
    const clone = await rest('POST', p, {
      sessionToken: mallory.token,
      body: { name, ACL: { '*': { read: true } }, users: { __op: 'AddRelation', objects: [userPtr(mallory.id)] } },
    });
    h.expectError(clone, 400, { code: 137, error: 'A duplicate value for a field with unique values was provided' }, p);
  }
  // renaming her own role to the admin name is the same attack
  const rename = await rest('PUT', `/roles/${own.body.objectId}`, { sessionToken: mallory.token, body: { name } });
  assert.equal(rename.status, 400, rename.text);
  assert.deepEqual(await members(), [admin.id]);
  h.expectError(await rest('GET', `/classes/${C}/${secret}`, { sessionToken: mallory.token }), 404, NOT_FOUND);
  assert.equal((await rest('GET', `/classes/${C}/${secret}`, { sessionToken: admin.token })).status, 200);
  const roles = await rest('GET', '/roles', { master: true, query: { where: { name } } });
  assert.equal(roles.body.results.length, 1);
});

test('with client class creation off, clients cannot create classes (119), by REST or batch', async () => {
  const other = await h.spawnBasalt({ env: { PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION: 'false' } });
  try {
    const C = uniqueClass('NoNew');
    const u = await signUp({}, other.rest);
    for (const opts of [{}, { sessionToken: u.token }]) {
      const r = await other.rest('POST', `/classes/${C}`, { ...opts, body: { a: 1 } });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.code, 119, r.text);
      const b = await other.rest('POST', '/batch', { ...opts, body: { requests: [{ method: 'POST', path: `/parse/classes/${C}`, body: { a: 1 } }] } });
      assert.equal(b.body[0].error.code, 119, b.text);
    }
    const schema = await other.rest('GET', `/schemas/${C}`, { master: true });
    assert.notEqual(schema.status, 200, 'the class was not created');
    // the master key still can
    assert.equal((await other.rest('POST', `/classes/${C}`, { master: true, body: { a: 1 } })).status, 201);
  } finally {
    await other.stop();
  }
});

test('method-override headers do not turn a POST into a DELETE or PUT', async () => {
  const u = await signUp();
  const C = uniqueClass('Override');
  const id = await create(C, { v: 1, ACL: { [u.id]: rw } }, { sessionToken: u.token });
  for (const header of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
    for (const method of ['DELETE', 'PUT']) {
      const r = await rest('POST', `/classes/${C}/${id}`, { headers: { [header]: method }, body: { v: 2 } });
      assert.ok(r.status >= 400, `${header}: ${method}: ${r.status} ${r.text}`);
    }
  }
  assert.equal((await masterGet(C, id)).v, 1);
});
