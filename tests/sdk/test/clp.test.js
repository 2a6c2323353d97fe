'use strict';
// Class-level permissions: operations, requiresAuthentication, users and roles, pointer
// permissions, protectedFields, validation of CLP documents, and the master key.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, useServer, rest, uniqueClass, parseError, Parse } = require('../helpers/server');

useServer();

const DENIED = { code: 119, error: 'Permission denied' };
const NEEDS_AUTH = { code: 101, error: 'Permission denied' };
const NOT_FOUND = { code: 101, error: 'Object not found.' };
const OPS = ['find', 'get', 'count', 'create', 'update', 'delete', 'addField'];

async function signUp() {
  const username = `c_${crypto.randomBytes(5).toString('hex')}`;
  const r = await rest('POST', '/users', { body: { username, password: 'pw' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.objectId, token: r.body.sessionToken, username };
}

const userPtr = (id) => ({ __type: 'Pointer', className: '_User', objectId: id });

/** A CLP document: every operation open to the public, with `overrides` replacing entries. */
function clp(overrides = {}) {
  const out = {};
  for (const op of OPS) out[op] = { '*': true };
  out.protectedFields = {};
  return { ...out, ...overrides };
}

/** Creates class C with fields and CLPs through POST /schemas (master key). */
async function makeClass(fields, classLevelPermissions, prefix = 'Clp') {
  const C = uniqueClass(prefix);
  const r = await rest('POST', `/schemas/${C}`, { master: true, body: { className: C, fields, classLevelPermissions } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return C;
}

async function makeRole(users) {
  const name = uniqueClass('ClpRole');
  const r = await rest('POST', '/roles', {
    master: true,
    body: { name, ACL: { '*': { read: true } }, users: { __op: 'AddRelation', objects: users.map((u) => userPtr(u.id)) } },
  });
  assert.equal(r.status, 201);
  return { id: r.body.objectId, name };
}

/** Runs each class operation for a caller; returns {op: {status, body}}. */
async function tryAll(C, id, opts) {
  return {
    find: await rest('GET', `/classes/${C}`, opts),
    get: await rest('GET', `/classes/${C}/${id}`, opts),
    count: await rest('GET', `/classes/${C}`, { ...opts, query: { count: 1, limit: 0 } }),
    create: await rest('POST', `/classes/${C}`, { ...opts, body: { v: 2 } }),
    update: await rest('PUT', `/classes/${C}/${id}`, { ...opts, body: { v: 3 } }),
    delete: await rest('DELETE', `/classes/${C}/${id}`, opts),
  };
}

test('an empty CLP entry denies that operation to everyone: 119 "Permission denied"', async () => {
  const empty = {};
  for (const op of OPS) empty[op] = {};
  const C = await makeClass({ v: { type: 'Number' } }, empty);
  const id = (await rest('POST', `/classes/${C}`, { master: true, body: { v: 1 } })).body.objectId;
  const u = await signUp();
  for (const opts of [{}, { sessionToken: u.token }]) {
    const results = await tryAll(C, id, opts);
    for (const [op, r] of Object.entries(results)) {
      assert.equal(r.status, 400, op);
      assert.deepEqual(r.body, DENIED, op);
    }
  }
  const err = await parseError(new Parse.Query(C).find());
  assert.equal(err.code, Parse.Error.OPERATION_FORBIDDEN);
  assert.equal(err.message, 'Permission denied');
  // the object is untouched
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { master: true })).body.v, 1);
});

test('each operation is checked separately: find denied does not deny get', async () => {
  const C = await makeClass({ v: { type: 'Number' } }, clp({ find: {}, delete: {} }));
  const id = (await rest('POST', `/classes/${C}`, { body: { v: 1 } })).body.objectId;
  assert.deepEqual((await rest('GET', `/classes/${C}`)).body, DENIED);
  assert.equal((await rest('GET', `/classes/${C}/${id}`)).status, 200);
  assert.deepEqual((await rest('GET', `/classes/${C}`, { query: { count: 1, limit: 0 } })).body, { results: [], count: 1 });
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { body: { v: 2 } })).status, 200);
  assert.deepEqual((await rest('DELETE', `/classes/${C}/${id}`)).body, DENIED);
});

test('addField denied: a new field is refused on create and update (119); known fields are fine', async () => {
  const C = await makeClass({ v: { type: 'Number' } }, clp({ addField: {} }));
  const ok = await rest('POST', `/classes/${C}`, { body: { v: 1 } });
  assert.equal(ok.status, 201);
  const id = ok.body.objectId;
  const createNew = await rest('POST', `/classes/${C}`, { body: { v: 1, extra: 'x' } });
  assert.equal(createNew.status, 400);
  assert.deepEqual(createNew.body, DENIED);
  const updateNew = await rest('PUT', `/classes/${C}/${id}`, { body: { extra: 'x' } });
  assert.equal(updateNew.status, 400);
  assert.deepEqual(updateNew.body, DENIED);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { body: { v: 5 } })).status, 200);
  // the master key may add fields
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { master: true, body: { extra: 'x' } })).status, 200);
  const schema = await rest('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.fields.extra, { type: 'String' });
});

test('requiresAuthentication: anonymous callers get HTTP 404 {code: 101, error: "Permission denied"}', async () => {
  const perms = {};
  for (const op of OPS) perms[op] = { requiresAuthentication: true };
  const C = await makeClass({ v: { type: 'Number' } }, perms);
  const id = (await rest('POST', `/classes/${C}`, { master: true, body: { v: 1 } })).body.objectId;
  const results = await tryAll(C, id, {});
  for (const [op, r] of Object.entries(results)) {
    assert.equal(r.status, 404, op);
    assert.deepEqual(r.body, NEEDS_AUTH, op);
  }
  const u = await signUp();
  const find = await rest('GET', `/classes/${C}`, { sessionToken: u.token });
  assert.equal(find.status, 200);
  assert.equal(find.body.results.length, 1);
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: u.token })).status, 200);
  assert.equal((await rest('POST', `/classes/${C}`, { sessionToken: u.token, body: { v: 2 } })).status, 201);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { sessionToken: u.token, body: { v: 3 } })).status, 200);
  assert.equal((await rest('DELETE', `/classes/${C}/${id}`, { sessionToken: u.token })).status, 200);
  const err = await parseError(new Parse.Query(C).find());
  assert.equal(err.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(err.message, 'Permission denied');
});

test('a CLP entry for a user id grants that user only', async () => {
  const allowed = await signUp();
  const other = await signUp();
  const C = await makeClass({ v: { type: 'Number' } }, clp({ find: { [allowed.id]: true }, create: { [allowed.id]: true } }));
  await rest('POST', `/classes/${C}`, { master: true, body: { v: 1 } });
  const ok = await rest('GET', `/classes/${C}`, { sessionToken: allowed.token });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.results.length, 1);
  assert.equal((await rest('POST', `/classes/${C}`, { sessionToken: allowed.token, body: { v: 2 } })).status, 201);
  for (const opts of [{ sessionToken: other.token }, {}]) {
    assert.deepEqual((await rest('GET', `/classes/${C}`, opts)).body, DENIED);
    assert.deepEqual((await rest('POST', `/classes/${C}`, { ...opts, body: { v: 3 } })).body, DENIED);
  }
});

test('a CLP entry for role:Name grants the role\'s members, including members of nested roles', async () => {
  const member = await signUp();
  const nested = await signUp();
  const outsider = await signUp();
  const role = await makeRole([member]);
  const child = await makeRole([nested]);
  await rest('PUT', `/roles/${role.id}`, {
    master: true,
    body: { roles: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: '_Role', objectId: child.id }] } },
  });
  const C = await makeClass({ v: { type: 'Number' } }, clp({ find: { [`role:${role.name}`]: true }, get: { [`role:${role.name}`]: true } }));
  const id = (await rest('POST', `/classes/${C}`, { master: true, body: { v: 1 } })).body.objectId;
  for (const u of [member, nested]) {
    assert.equal((await rest('GET', `/classes/${C}`, { sessionToken: u.token })).body.results.length, 1);
    assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: u.token })).status, 200);
  }
  assert.deepEqual((await rest('GET', `/classes/${C}`, { sessionToken: outsider.token })).body, DENIED);
  assert.deepEqual((await rest('GET', `/classes/${C}/${id}`, { sessionToken: outsider.token })).body, DENIED);
});

test('readUserFields: users see only the objects whose pointer field points at them', async () => {
  const a = await signUp();
  const b = await signUp();
  const C = await makeClass(
    { owner: { type: 'Pointer', targetClass: '_User' }, v: { type: 'Number' } },
    clp({ find: {}, get: {}, count: {}, readUserFields: ['owner'] })
  );
  const ida = (await rest('POST', `/classes/${C}`, { body: { v: 1, owner: userPtr(a.id) } })).body.objectId;
  const idb = (await rest('POST', `/classes/${C}`, { body: { v: 2, owner: userPtr(b.id) } })).body.objectId;
  const findA = await rest('GET', `/classes/${C}`, { sessionToken: a.token });
  assert.equal(findA.status, 200);
  assert.deepEqual(findA.body.results.map((o) => o.objectId), [ida]);
  const countA = await rest('GET', `/classes/${C}`, { sessionToken: a.token, query: { count: 1, limit: 0 } });
  assert.deepEqual(countA.body, { results: [], count: 1 });
  assert.equal((await rest('GET', `/classes/${C}/${ida}`, { sessionToken: a.token })).status, 200);
  const getB = await rest('GET', `/classes/${C}/${idb}`, { sessionToken: a.token });
  assert.equal(getB.status, 404);
  assert.deepEqual(getB.body, NOT_FOUND);
  // callers who are no pointer's target get empty results, not an error
  const stranger = await signUp();
  assert.deepEqual((await rest('GET', `/classes/${C}`, { sessionToken: stranger.token })).body, { results: [] });
  assert.deepEqual((await rest('GET', `/classes/${C}`)).body, { results: [] });
  const sdk = await new Parse.Query(C).find({ sessionToken: b.token });
  assert.deepEqual(sdk.map((o) => o.id), [idb]);
});

test('writeUserFields: only the pointed-at user may update or delete (others 101)', async () => {
  const owner = await signUp();
  const other = await signUp();
  const C = await makeClass(
    { owner: { type: 'Pointer', targetClass: '_User' }, v: { type: 'Number' } },
    clp({ update: {}, delete: {}, writeUserFields: ['owner'] })
  );
  const id = (await rest('POST', `/classes/${C}`, { body: { v: 1, owner: userPtr(owner.id) } })).body.objectId;
  for (const opts of [{ sessionToken: other.token }, {}]) {
    const put = await rest('PUT', `/classes/${C}/${id}`, { ...opts, body: { v: 9 } });
    assert.equal(put.status, 404);
    assert.deepEqual(put.body, NOT_FOUND);
    const del = await rest('DELETE', `/classes/${C}/${id}`, opts);
    assert.equal(del.status, 404);
    assert.deepEqual(del.body, NOT_FOUND);
  }
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { sessionToken: owner.token, body: { v: 2 } })).status, 200);
  assert.equal((await rest('GET', `/classes/${C}/${id}`)).body.v, 2);
  assert.equal((await rest('DELETE', `/classes/${C}/${id}`, { sessionToken: owner.token })).status, 200);
});

test('pointerFields inside an operation entry work like readUserFields for that operation', async () => {
  const a = await signUp();
  const b = await signUp();
  const C = await makeClass(
    { owner: { type: 'Pointer', targetClass: '_User' }, v: { type: 'Number' } },
    clp({ get: { pointerFields: ['owner'] } })
  );
  const id = (await rest('POST', `/classes/${C}`, { body: { v: 1, owner: userPtr(a.id) } })).body.objectId;
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: a.token })).status, 200);
  assert.deepEqual((await rest('GET', `/classes/${C}/${id}`, { sessionToken: b.token })).body, NOT_FOUND);
  // find is still public
  assert.equal((await rest('GET', `/classes/${C}`, { sessionToken: b.token })).body.results.length, 1);
  const schema = await rest('GET', `/schemas/${C}`, { master: true });
  assert.deepEqual(schema.body.classLevelPermissions.get, { pointerFields: ['owner'] });
});

test('protectedFields for "*": hidden from clients, not usable in where or order, visible to the master key', async () => {
  const C = await makeClass(
    { secret: { type: 'String' }, v: { type: 'Number' } },
    clp({ protectedFields: { '*': ['secret'] } })
  );
  const id = (await rest('POST', `/classes/${C}`, { body: { v: 1, secret: 's1' } })).body.objectId;
  const u = await signUp();
  for (const opts of [{}, { sessionToken: u.token }]) {
    const get = await rest('GET', `/classes/${C}/${id}`, opts);
    assert.equal(get.status, 200);
    assert.equal(get.body.v, 1);
    assert.ok(!('secret' in get.body));
    const find = await rest('GET', `/classes/${C}`, opts);
    assert.ok(!('secret' in find.body.results[0]));
    const keys = await rest('GET', `/classes/${C}`, { ...opts, query: { keys: 'secret' } });
    assert.ok(!('secret' in keys.body.results[0]));
    const where = await rest('GET', `/classes/${C}`, { ...opts, query: { where: { secret: 's1' } } });
    assert.equal(where.status, 400);
    assert.deepEqual(where.body, DENIED);
    const order = await rest('GET', `/classes/${C}`, { ...opts, query: { order: 'secret' } });
    assert.equal(order.status, 400);
    assert.deepEqual(order.body, DENIED);
  }
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { master: true })).body.secret, 's1');
  const sdk = await new Parse.Query(C).get(id);
  assert.equal(sdk.get('secret'), undefined);
});

test('protectedFields by role: the role\'s members see the field (the groups\' field sets intersect)', async () => {
  const member = await signUp();
  const outsider = await signUp();
  const role = await makeRole([member]);
  const C = await makeClass(
    { secret: { type: 'String' }, v: { type: 'Number' } },
    clp({ protectedFields: { '*': ['secret'], [`role:${role.name}`]: [] } })
  );
  const id = (await rest('POST', `/classes/${C}`, { body: { v: 1, secret: 's' } })).body.objectId;
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: member.token })).body.secret, 's');
  assert.ok(!('secret' in (await rest('GET', `/classes/${C}/${id}`, { sessionToken: outsider.token })).body));
  assert.ok(!('secret' in (await rest('GET', `/classes/${C}/${id}`)).body));
});

test('protectedFields for userField:owner: the user the pointer names sees the field', async () => {
  const owner = await signUp();
  const other = await signUp();
  const C = await makeClass(
    { owner: { type: 'Pointer', targetClass: '_User' }, secret: { type: 'String' } },
    clp({ protectedFields: { '*': ['secret'], 'userField:owner': [] } })
  );
  const id = (await rest('POST', `/classes/${C}`, { body: { owner: userPtr(owner.id), secret: 'mine' } })).body.objectId;
  const id2 = (await rest('POST', `/classes/${C}`, { body: { owner: userPtr(other.id), secret: 'theirs' } })).body.objectId;
  const find = await rest('GET', `/classes/${C}`, { sessionToken: owner.token });
  const byId = Object.fromEntries(find.body.results.map((o) => [o.objectId, o]));
  assert.equal(byId[id].secret, 'mine');
  assert.ok(!('secret' in byId[id2]));
  assert.ok(!('secret' in (await rest('GET', `/classes/${C}/${id}`)).body));
});

test('protectedFields naming a field the class does not have is 107', async () => {
  const C = uniqueClass('Clp');
  const r = await rest('POST', `/schemas/${C}`, {
    master: true,
    body: { className: C, fields: { v: { type: 'Number' } }, classLevelPermissions: clp({ protectedFields: { '*': ['nope'] } }) },
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 107, error: "Field 'nope' in protectedFields:* does not exist" });
});

test('the master key bypasses every CLP and protected field', async () => {
  const locked = { protectedFields: { '*': ['secret'] } };
  for (const op of OPS) locked[op] = {};
  const C = await makeClass({ secret: { type: 'String' }, v: { type: 'Number' } }, locked);
  const m = { master: true };
  const created = await rest('POST', `/classes/${C}`, { ...m, body: { v: 1, secret: 's', added: true } });
  assert.equal(created.status, 201);
  const id = created.body.objectId;
  const got = await rest('GET', `/classes/${C}/${id}`, m);
  assert.equal(got.body.secret, 's');
  assert.equal(got.body.added, true);
  assert.equal((await rest('GET', `/classes/${C}`, { ...m, query: { where: { secret: 's' } } })).body.results.length, 1);
  assert.deepEqual((await rest('GET', `/classes/${C}`, { ...m, query: { where: { v: 1 }, count: 1, limit: 0 } })).body, { results: [], count: 1 });
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { ...m, body: { v: 2 } })).status, 200);
  assert.equal((await rest('DELETE', `/classes/${C}/${id}`, m)).status, 200);
  const sdk = await new Parse.Query(C).find({ useMasterKey: true });
  assert.equal(sdk.length, 0);
});

test('Parse.Schema setCLP round-trips through GET /schemas and takes effect', async () => {
  const u = await signUp();
  const C = uniqueClass('ClpSdk');
  const schema = new Parse.Schema(C);
  schema.addNumber('v');
  schema.setCLP({
    find: { requiresAuthentication: true },
    get: { '*': true },
    count: { '*': true },
    create: { '*': true },
    update: { [u.id]: true },
    delete: {},
    addField: {},
    protectedFields: { '*': [] },
  });
  await schema.save();
  const got = await new Parse.Schema(C).get();
  assert.deepEqual(got.classLevelPermissions, {
    find: { requiresAuthentication: true },
    get: { '*': true },
    count: { '*': true },
    create: { '*': true },
    update: { [u.id]: true },
    delete: {},
    addField: {},
    protectedFields: { '*': [] },
  });
  const id = (await rest('POST', `/classes/${C}`, { body: { v: 1 } })).body.objectId;
  assert.deepEqual((await rest('GET', `/classes/${C}`)).body, NEEDS_AUTH);
  assert.deepEqual((await rest('PUT', `/classes/${C}/${id}`, { body: { v: 2 } })).body, DENIED);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { sessionToken: u.token, body: { v: 2 } })).status, 200);
});

test('PUT /schemas replaces the whole CLP: operations left out become {} (denied)', async () => {
  const C = await makeClass({ v: { type: 'Number' } }, clp());
  const r = await rest('PUT', `/schemas/${C}`, { master: true, body: { classLevelPermissions: { find: { '*': true } } } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.classLevelPermissions, {
    find: { '*': true },
    get: {},
    count: {},
    create: {},
    update: {},
    delete: {},
    addField: {},
    protectedFields: {},
  });
  assert.equal((await rest('GET', `/classes/${C}`)).status, 200);
  assert.deepEqual((await rest('POST', `/classes/${C}`, { body: { v: 1 } })).body, DENIED);
});

test('malformed CLP documents are 107 with a description', async () => {
  const C = await makeClass({ v: { type: 'Number' } }, clp());
  const cases = [
    [{ find: { '*': false } }, "'false' is not a valid value for class level permissions acl find:*"],
    [{ frobnicate: { '*': true } }, 'frobnicate is not a valid operation for class level permissions'],
  ];
  for (const [classLevelPermissions, error] of cases) {
    const r = await rest('PUT', `/schemas/${C}`, { master: true, body: { classLevelPermissions } });
    assert.equal(r.status, 400, error);
    assert.deepEqual(r.body, { code: 107, error });
  }
});

test('the system classes _User, _Role and _Session are open to the public at the CLP level', async () => {
  const expected = {
    ACL: { '*': { read: true, write: true } },
    find: { '*': true },
    count: { '*': true },
    get: { '*': true },
    create: { '*': true },
    update: { '*': true },
    delete: { '*': true },
    addField: { '*': true },
    protectedFields: { '*': [] },
  };
  // make sure each class exists (a session and a role are created on first use)
  const u = await signUp();
  await makeRole([u]);
  for (const cls of ['_User', '_Role', '_Session']) {
    const r = await rest('GET', `/schemas/${cls}`, { master: true });
    assert.equal(r.status, 200, cls);
    assert.deepEqual(r.body.classLevelPermissions, expected, cls);
  }
});
