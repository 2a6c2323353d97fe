'use strict';
// Object ACLs: per-user, public, role and empty ACLs on get/find/count/update/delete/include.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, useServer, rest, uniqueClass, parseError, Parse } = require('../helpers/server');

useServer();

const NOT_FOUND = { code: 101, error: 'Object not found.' };

async function signUp() {
  const username = `a_${crypto.randomBytes(5).toString('hex')}`;
  const r = await rest('POST', '/users', { body: { username, password: 'pw' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.objectId, token: r.body.sessionToken, username };
}

async function create(C, body, opts = {}) {
  const r = await rest('POST', `/classes/${C}`, { body, ...opts });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.objectId;
}

const rw = { read: true, write: true };
const ids = (r) => r.body.results.map((o) => o.objectId).sort();

test('an owner-only object is invisible to other users and to anonymous callers', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const id = await create(C, { v: 1, ACL: { [a.id]: rw } }, { sessionToken: a.token });
  await create(C, { v: 2 }); // public (no ACL)
  for (const opts of [{ sessionToken: b.token }, {}]) {
    const get = await rest('GET', `/classes/${C}/${id}`, opts);
    assert.equal(get.status, 404);
    assert.deepEqual(get.body, NOT_FOUND);
    const find = await rest('GET', `/classes/${C}`, opts);
    assert.deepEqual(find.body.results.map((o) => o.v), [2]);
    const count = await rest('GET', `/classes/${C}`, { ...opts, query: { count: 1, limit: 0 } });
    assert.deepEqual(count.body, { results: [], count: 1 });
  }
  const own = await rest('GET', `/classes/${C}/${id}`, { sessionToken: a.token });
  assert.equal(own.status, 200);
  assert.deepEqual(own.body.ACL, { [a.id]: rw });
  const ownCount = await rest('GET', `/classes/${C}`, { sessionToken: a.token, query: { count: 1, limit: 0 } });
  assert.equal(ownCount.body.count, 2);
  const sdkErr = await parseError(new Parse.Query(C).get(id, { sessionToken: b.token }));
  assert.equal(sdkErr.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(sdkErr.message, 'Object not found.');
});

test('an owner-only object cannot be updated or deleted by others (101); the owner and the master key can', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const id = await create(C, { v: 1, ACL: { [a.id]: rw } }, { sessionToken: a.token });
  for (const opts of [{ sessionToken: b.token }, {}]) {
    const put = await rest('PUT', `/classes/${C}/${id}`, { ...opts, body: { v: 9 } });
    assert.equal(put.status, 404);
    assert.deepEqual(put.body, NOT_FOUND);
    const del = await rest('DELETE', `/classes/${C}/${id}`, opts);
    assert.equal(del.status, 404);
    assert.deepEqual(del.body, NOT_FOUND);
  }
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { sessionToken: a.token, body: { v: 2 } })).status, 200);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { master: true, body: { v: 3 } })).status, 200);
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { master: true })).body.v, 3);
  assert.equal((await rest('DELETE', `/classes/${C}/${id}`, { sessionToken: a.token })).status, 200);
});

test('public read only: everybody reads, only the owner writes; others get 101 on update and delete', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  acl.setReadAccess(a.id, true);
  acl.setWriteAccess(a.id, true);
  const obj = new Parse.Object(C);
  obj.setACL(acl);
  obj.set('v', 1);
  await obj.save(null, { sessionToken: a.token });
  assert.deepEqual(acl.toJSON(), { '*': { read: true }, [a.id]: rw });
  const got = await rest('GET', `/classes/${C}/${obj.id}`, { sessionToken: b.token });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.ACL, { '*': { read: true }, [a.id]: rw });
  assert.equal((await rest('GET', `/classes/${C}/${obj.id}`)).status, 200);
  const put = await rest('PUT', `/classes/${C}/${obj.id}`, { sessionToken: b.token, body: { v: 2 } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, NOT_FOUND);
  const del = await rest('DELETE', `/classes/${C}/${obj.id}`, { sessionToken: b.token });
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, NOT_FOUND);
  const copy = Parse.Object.extend(C).createWithoutData(obj.id);
  copy.set('v', 3);
  const err = await parseError(copy.save(null, { sessionToken: b.token }));
  assert.equal(err.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(err.message, 'Object not found.');
  assert.equal((await rest('PUT', `/classes/${C}/${obj.id}`, { sessionToken: a.token, body: { v: 4 } })).status, 200);
});

test('read-only for everyone: not even the creator can update; the master key can', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const id = await create(C, { v: 1, ACL: { '*': { read: true } } }, { sessionToken: a.token });
  const put = await rest('PUT', `/classes/${C}/${id}`, { sessionToken: a.token, body: { v: 2 } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, NOT_FOUND);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { master: true, body: { v: 2 } })).status, 200);
});

test('write without read: the user can update and delete but not get', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const id = await create(C, { v: 1, ACL: { [a.id]: rw, [b.id]: { write: true } } }, { sessionToken: a.token });
  const get = await rest('GET', `/classes/${C}/${id}`, { sessionToken: b.token });
  assert.deepEqual(get.body, NOT_FOUND);
  const put = await rest('PUT', `/classes/${C}/${id}`, { sessionToken: b.token, body: { v: 2 } });
  assert.equal(put.status, 200);
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: a.token })).body.v, 2);
  const del = await rest('DELETE', `/classes/${C}/${id}`, { sessionToken: b.token });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
});

test('an empty ACL hides the object from everyone but the master key', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const id = await create(C, { v: 1, ACL: {} }, { sessionToken: a.token });
  assert.deepEqual((await rest('GET', `/classes/${C}/${id}`, { sessionToken: a.token })).body, NOT_FOUND);
  assert.deepEqual((await rest('GET', `/classes/${C}`, { sessionToken: a.token })).body, { results: [] });
  const master = await rest('GET', `/classes/${C}/${id}`, { master: true });
  assert.equal(master.status, 200);
  assert.deepEqual(master.body.ACL, {});
});

test('setReadAccess for a specific user grants that user, and only that user, read access', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const c = await signUp();
  const acl = new Parse.ACL(Parse.User.createWithoutData(a.id));
  acl.setReadAccess(b.id, true);
  const obj = new Parse.Object(C, { v: 'shared' });
  obj.setACL(acl);
  await obj.save(null, { sessionToken: a.token });
  const got = await new Parse.Query(C).get(obj.id, { sessionToken: b.token });
  assert.equal(got.get('v'), 'shared');
  assert.ok(got.getACL().getReadAccess(b.id));
  assert.ok(!got.getACL().getWriteAccess(b.id));
  assert.deepEqual(got.getACL().toJSON(), { [a.id]: rw, [b.id]: { read: true } });
  assert.deepEqual(await new Parse.Query(C).find({ sessionToken: c.token }), []);
  const put = await rest('PUT', `/classes/${C}/${obj.id}`, { sessionToken: b.token, body: { v: 'x' } });
  assert.deepEqual(put.body, NOT_FOUND);
});

test('a role ACL (role:Name) grants access to the role\'s members only', async () => {
  const C = uniqueClass('Acl');
  const member = await signUp();
  const outsider = await signUp();
  const roleName = uniqueClass('Admins');
  const role = await rest('POST', '/roles', {
    master: true,
    body: {
      name: roleName,
      ACL: { '*': { read: true } },
      users: { __op: 'AddRelation', objects: [{ __type: 'Pointer', className: '_User', objectId: member.id }] },
    },
  });
  assert.equal(role.status, 201);
  const acl = new Parse.ACL();
  acl.setRoleReadAccess(roleName, true);
  acl.setRoleWriteAccess(roleName, true);
  assert.deepEqual(acl.toJSON(), { [`role:${roleName}`]: rw });
  const obj = new Parse.Object(C, { v: 1 });
  obj.setACL(acl);
  await obj.save(null, { useMasterKey: true });
  const got = await rest('GET', `/classes/${C}/${obj.id}`, { sessionToken: member.token });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.ACL, { [`role:${roleName}`]: rw });
  assert.equal((await rest('PUT', `/classes/${C}/${obj.id}`, { sessionToken: member.token, body: { v: 2 } })).status, 200);
  assert.deepEqual((await rest('GET', `/classes/${C}/${obj.id}`, { sessionToken: outsider.token })).body, NOT_FOUND);
  assert.deepEqual((await rest('PUT', `/classes/${C}/${obj.id}`, { sessionToken: outsider.token, body: { v: 3 } })).body, NOT_FOUND);
  assert.deepEqual((await rest('GET', `/classes/${C}`, { sessionToken: outsider.token })).body, { results: [] });
});

test('include of a pointer the caller cannot read drops the key from the result', async () => {
  const C = uniqueClass('AclChild');
  const P = uniqueClass('AclParent');
  const a = await signUp();
  const b = await signUp();
  const hidden = await create(C, { v: 'hidden', ACL: { [a.id]: rw } }, { sessionToken: a.token });
  const visible = await create(C, { v: 'visible', ACL: { '*': { read: true } } }, { sessionToken: a.token });
  const ptr = (id) => ({ __type: 'Pointer', className: C, objectId: id });
  const parent = await create(P, { hidden: ptr(hidden), visible: ptr(visible), tag: 'p' });

  const get = await rest('GET', `/classes/${P}/${parent}`, { sessionToken: b.token, query: { include: 'hidden,visible' } });
  assert.equal(get.status, 200);
  assert.ok(!('hidden' in get.body), JSON.stringify(get.body));
  assert.equal(get.body.visible.__type, 'Object');
  assert.equal(get.body.visible.className, C);
  assert.equal(get.body.visible.v, 'visible');
  assert.equal(get.body.tag, 'p');

  // without include, the unreadable pointer is returned as a plain pointer
  const plain = await rest('GET', `/classes/${P}/${parent}`, { sessionToken: b.token });
  assert.deepEqual(plain.body.hidden, ptr(hidden));

  const find = await rest('GET', `/classes/${P}`, { sessionToken: b.token, query: { include: 'hidden' } });
  assert.equal(find.body.results.length, 1);
  assert.ok(!('hidden' in find.body.results[0]));
  assert.deepEqual(find.body.results[0].visible, ptr(visible));

  // the owner gets the included object
  const owner = await rest('GET', `/classes/${P}/${parent}`, { sessionToken: a.token, query: { include: 'hidden' } });
  assert.equal(owner.body.hidden.v, 'hidden');

  const sdk = await new Parse.Query(P).include('hidden').get(parent, { sessionToken: b.token });
  assert.equal(sdk.get('hidden'), undefined);
});

test('include of another user\'s private _User pointer drops it; one\'s own user is included', async () => {
  const C = uniqueClass('AclOwn');
  const a = await signUp();
  const b = await signUp();
  const id = await create(C, {
    owner: { __type: 'Pointer', className: '_User', objectId: a.id },
  });
  const byB = await rest('GET', `/classes/${C}/${id}`, { sessionToken: b.token, query: { include: 'owner' } });
  assert.equal(byB.status, 200);
  assert.ok(!('owner' in byB.body));
  const byA = await rest('GET', `/classes/${C}/${id}`, { sessionToken: a.token, query: { include: 'owner' } });
  assert.equal(byA.body.owner.__type, 'Object');
  assert.equal(byA.body.owner.className, '_User');
  assert.equal(byA.body.owner.username, a.username);
  assert.equal(byA.body.owner.password, undefined);
});

test('queries never return or count unreadable objects: $or, $in on objectId, skip/limit, count', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const priv = [];
  for (let i = 0; i < 3; i += 1) priv.push(await create(C, { n: i, ACL: { [a.id]: rw } }, { sessionToken: a.token }));
  const pub = [];
  for (let i = 3; i < 5; i += 1) pub.push(await create(C, { n: i, ACL: { '*': { read: true } } }, { sessionToken: a.token }));
  const q = (query) => rest('GET', `/classes/${C}`, { sessionToken: b.token, query });
  assert.deepEqual(ids(await q({ where: { $or: [{ n: 0 }, { n: 3 }] } })), [pub[0]]);
  assert.deepEqual(ids(await q({ where: { objectId: { $in: [...priv, pub[1]] } } })), [pub[1]]);
  assert.deepEqual(ids(await q({ where: { objectId: priv[0] } })), []);
  assert.deepEqual((await q({ order: 'n', skip: 1, limit: 5 })).body.results.map((o) => o.n), [4]);
  assert.deepEqual((await q({ where: { n: { $gte: 0 } }, count: 1, limit: 0 })).body, { results: [], count: 2 });
  const all = () => new Parse.Query(C).greaterThanOrEqualTo('n', 0);
  assert.equal(await all().count({ sessionToken: b.token }), 2);
  assert.equal(await all().count({ sessionToken: a.token }), 5);
  assert.equal(await all().count({ useMasterKey: true }), 5);
});

test('an object saved with a Parse.ACL round-trips the ACL through the SDK', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const acl = new Parse.ACL();
  acl.setReadAccess(a.id, true);
  acl.setWriteAccess(a.id, true);
  acl.setPublicReadAccess(true);
  acl.setRoleReadAccess('Viewers', true);
  const obj = new Parse.Object(C, { v: 1 });
  obj.setACL(acl);
  await obj.save(null, { sessionToken: a.token });
  const back = await new Parse.Query(C).get(obj.id, { sessionToken: a.token });
  assert.deepEqual(back.getACL().toJSON(), {
    '*': { read: true },
    [a.id]: rw,
    'role:Viewers': { read: true },
  });
  assert.ok(back.getACL().getPublicReadAccess());
  assert.ok(!back.getACL().getPublicWriteAccess());
});

test('an object created without an ACL has no ACL field and is public', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  const b = await signUp();
  const id = await create(C, { v: 1 }, { sessionToken: a.token });
  const got = await rest('GET', `/classes/${C}/${id}`, { sessionToken: b.token });
  assert.equal(got.status, 200);
  assert.equal(got.body.ACL, undefined);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { body: { v: 2 } })).status, 200);
});

test('the master key reads and counts every object regardless of ACL', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  await create(C, { v: 1, ACL: { [a.id]: rw } }, { sessionToken: a.token });
  await create(C, { v: 2, ACL: {} }, { sessionToken: a.token });
  const r = await rest('GET', `/classes/${C}`, { master: true, query: { where: { v: { $gt: 0 } }, count: 1, order: 'v' } });
  assert.equal(r.body.count, 2);
  assert.deepEqual(r.body.results.map((o) => o.v), [1, 2]);
});

test('a master-key count without any constraint counts every object exactly', async () => {
  const C = uniqueClass('Acl');
  const a = await signUp();
  await create(C, { v: 1, ACL: { [a.id]: rw } }, { sessionToken: a.token });
  await create(C, { v: 2, ACL: {} }, { sessionToken: a.token });
  await create(C, { v: 3 });
  const r = await rest('GET', `/classes/${C}`, { master: true, query: { count: 1, limit: 0 } });
  assert.deepEqual(r.body, { results: [], count: 3 });
  assert.equal(await new Parse.Query(C).count({ useMasterKey: true }), 3);
  // a client without the master key counts only what it can read
  assert.equal(await new Parse.Query(C).count({ sessionToken: a.token }), 2);
});
