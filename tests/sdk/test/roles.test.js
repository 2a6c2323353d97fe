'use strict';
// _Role: creation rules, the users and roles relations, nested roles and membership changes.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, useServer, rest, uniqueClass, parseError, Parse, OBJECT_ID_RE, ISO_DATE_RE } = require('../helpers/server');

useServer();

const NOT_FOUND = { code: 101, error: 'Object not found.' };

async function signUp() {
  const username = `r_${crypto.randomBytes(5).toString('hex')}`;
  const r = await rest('POST', '/users', { body: { username, password: 'pw' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.objectId, token: r.body.sessionToken, username };
}

const userPtr = (id) => ({ __type: 'Pointer', className: '_User', objectId: id });
const rolePtr = (id) => ({ __type: 'Pointer', className: '_Role', objectId: id });

/** Creates a role with the master key; returns {id, name}. */
async function makeRole(users = [], roles = [], acl = { '*': { read: true } }) {
  const name = uniqueClass('Role');
  const body = { name, ACL: acl };
  if (users.length) body.users = { __op: 'AddRelation', objects: users.map((u) => userPtr(u.id)) };
  if (roles.length) body.roles = { __op: 'AddRelation', objects: roles.map((r) => rolePtr(r.id)) };
  const r = await rest('POST', '/roles', { master: true, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.objectId, name };
}

/** An object readable only by the given role; returns a function telling whether a user can get it. */
async function guardedBy(roleName) {
  const C = uniqueClass('Guarded');
  const r = await rest('POST', `/classes/${C}`, { master: true, body: { v: 1, ACL: { [`role:${roleName}`]: { read: true } } } });
  assert.equal(r.status, 201);
  return async (user) => {
    const got = await rest('GET', `/classes/${C}/${r.body.objectId}`, { sessionToken: user.token });
    if (got.status === 200) return true;
    assert.deepEqual(got.body, NOT_FOUND);
    return false;
  };
}

test('Parse.Role with an ACL is created by a user; GET /roles/:id shows name, ACL and both relations', async () => {
  const owner = await signUp();
  const name = uniqueClass('Mods');
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  acl.setWriteAccess(owner.id, true);
  const role = new Parse.Role(name, acl);
  await role.save(null, { sessionToken: owner.token });
  assert.match(role.id, OBJECT_ID_RE);
  assert.equal(role.getName(), name);
  const r = await rest('GET', `/roles/${role.id}`);
  assert.equal(r.status, 200);
  assert.match(r.body.createdAt, ISO_DATE_RE);
  assert.deepEqual(r.body, {
    objectId: role.id,
    createdAt: r.body.createdAt,
    updatedAt: r.body.createdAt,
    name,
    users: { __type: 'Relation', className: '_User' },
    roles: { __type: 'Relation', className: '_Role' },
    ACL: { '*': { read: true }, [owner.id]: { write: true } },
  });
  // /classes/_Role is the same collection
  const viaClasses = await rest('GET', `/classes/_Role/${role.id}`);
  assert.deepEqual(viaClasses.body, r.body);
});

test('POST /roles answers 201 with objectId and createdAt', async () => {
  const name = uniqueClass('Plain');
  const r = await rest('POST', '/roles', { body: { name, ACL: { '*': { read: true } } } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'objectId']);
});

test('a role needs an ACL and a name: 111 "ACL is required." / "name is required."', async () => {
  const noAcl = await rest('POST', '/roles', { body: { name: uniqueClass('NoAcl') } });
  assert.equal(noAcl.status, 400);
  assert.deepEqual(noAcl.body, { code: 111, error: 'ACL is required.' });
  const noName = await rest('POST', '/roles', { body: { ACL: { '*': { read: true } } } });
  assert.equal(noName.status, 400);
  assert.deepEqual(noName.body, { code: 111, error: 'name is required.' });
  const neither = await rest('POST', '/roles', { body: {} });
  assert.equal(neither.status, 400);
  assert.deepEqual(neither.body, { code: 111, error: 'name is required.' });
  const sdkRole = new Parse.Role();
  sdkRole.setName(uniqueClass('SdkNoAcl'));
  const err = await parseError(sdkRole.save());
  assert.equal(err.code, Parse.Error.INCORRECT_TYPE);
  assert.equal(err.message, 'ACL is required.');
});

test('a duplicate role name is 137 "A duplicate value for a field with unique values was provided"', async () => {
  const name = uniqueClass('Dup');
  assert.equal((await rest('POST', '/roles', { body: { name, ACL: { '*': { read: true } } } })).status, 201);
  const again = await rest('POST', '/roles', { master: true, body: { name, ACL: {} } });
  assert.equal(again.status, 400);
  assert.deepEqual(again.body, { code: 137, error: 'A duplicate value for a field with unique values was provided' });
  const err = await parseError(new Parse.Role(name, new Parse.ACL()).save(null, { useMasterKey: true }));
  assert.equal(err.code, Parse.Error.DUPLICATE_VALUE);
});

test('role names are checked by the SDK (code -1), not by the server', async () => {
  const bad = `${uniqueClass('Bad')} name!`;
  // the server stores any string
  const r = await rest('POST', '/roles', { body: { name: bad, ACL: { '*': { read: true } } } });
  assert.equal(r.status, 201);
  assert.equal((await rest('GET', `/roles/${r.body.objectId}`)).body.name, bad);
  // the SDK refuses before sending anything
  assert.throws(
    () => new Parse.Role(`${uniqueClass('Bad')}!`, new Parse.ACL()),
    (e) =>
      e.code === Parse.Error.OTHER_CAUSE &&
      e.message === "A role's name can be only contain alphanumeric characters, _, -, and spaces."
  );
});

test('the server lets a role be renamed (only the SDK forbids it)', async () => {
  const role = await makeRole();
  const newName = uniqueClass('Renamed');
  const r = await rest('PUT', `/roles/${role.id}`, { master: true, body: { name: newName } });
  assert.equal(r.status, 200);
  assert.equal((await rest('GET', `/roles/${role.id}`)).body.name, newName);
  const sdkRole = await new Parse.Query(Parse.Role).get(role.id);
  assert.throws(() => sdkRole.setName('Other'), (e) => e.code === Parse.Error.OTHER_CAUSE);
});

test('role.getUsers() adds members; the users relation is queryable with $relatedTo', async () => {
  const a = await signUp();
  const b = await signUp();
  const c = await signUp();
  const role = new Parse.Role(uniqueClass('Team'), new Parse.ACL());
  role.getUsers().add([Parse.User.createWithoutData(a.id), Parse.User.createWithoutData(b.id)]);
  await role.save(null, { useMasterKey: true });
  const members = await role.getUsers().query().find({ useMasterKey: true });
  assert.deepEqual(members.map((u) => u.id).sort(), [a.id, b.id].sort());
  const r = await rest('GET', '/users', {
    master: true,
    query: { where: { $relatedTo: { object: rolePtr(role.id), key: 'users' } } },
  });
  assert.deepEqual(r.body.results.map((u) => u.objectId).sort(), [a.id, b.id].sort());
  assert.ok(!r.body.results.some((u) => u.objectId === c.id));
  // the roles a user belongs to
  const mine = await new Parse.Query(Parse.Role).equalTo('users', Parse.User.createWithoutData(a.id)).find({ useMasterKey: true });
  assert.deepEqual(mine.map((x) => x.id), [role.id]);
});

test('nested roles: parent.getRoles().add(child) gives the child\'s members the parent\'s access, not the reverse', async () => {
  const parentMember = await signUp();
  const childMember = await signUp();
  const child = await makeRole([childMember]);
  const parent = await makeRole([parentMember]);
  const parentRole = await new Parse.Query(Parse.Role).get(parent.id);
  parentRole.getRoles().add(Parse.Role.createWithoutData(child.id));
  await parentRole.save(null, { useMasterKey: true });
  const parentOnly = await guardedBy(parent.name);
  const childOnly = await guardedBy(child.name);
  assert.equal(await parentOnly(parentMember), true);
  assert.equal(await parentOnly(childMember), true); // inherited
  assert.equal(await childOnly(childMember), true);
  assert.equal(await childOnly(parentMember), false); // not the other way round
});

test('nesting three levels deep: members of the innermost role reach the outermost role\'s objects', async () => {
  const low = await signUp();
  const mid = await signUp();
  const top = await signUp();
  const outsider = await signUp();
  const lowRole = await makeRole([low]);
  const midRole = await makeRole([mid], [lowRole]);
  const topRole = await makeRole([top], [midRole]);
  const topOnly = await guardedBy(topRole.name);
  const midOnly = await guardedBy(midRole.name);
  for (const u of [top, mid, low]) assert.equal(await topOnly(u), true);
  assert.equal(await topOnly(outsider), false);
  assert.equal(await midOnly(low), true);
  assert.equal(await midOnly(top), false);
  // a find sees the same thing
  const C = uniqueClass('Deep');
  await rest('POST', `/classes/${C}`, { master: true, body: { v: 'top', ACL: { [`role:${topRole.name}`]: { read: true } } } });
  await rest('POST', `/classes/${C}`, { master: true, body: { v: 'mid', ACL: { [`role:${midRole.name}`]: { read: true } } } });
  const seen = async (u) => (await rest('GET', `/classes/${C}`, { sessionToken: u.token, query: { order: 'v' } })).body.results.map((o) => o.v);
  assert.deepEqual(await seen(low), ['mid', 'top']);
  assert.deepEqual(await seen(top), ['top']);
  assert.deepEqual(await seen(outsider), []);
});

test('removing a user from a role revokes its access at once', async () => {
  const u = await signUp();
  const role = await makeRole([u]);
  const allowed = await guardedBy(role.name);
  assert.equal(await allowed(u), true);
  const r = await rest('PUT', `/roles/${role.id}`, {
    master: true,
    body: { users: { __op: 'RemoveRelation', objects: [userPtr(u.id)] } },
  });
  assert.equal(r.status, 200);
  assert.equal(await allowed(u), false);
});

test('removing a child role from its parent revokes the inherited access; deleting a role revokes its own', async () => {
  const u = await signUp();
  const child = await makeRole([u]);
  const parent = await makeRole([], [child]);
  const parentOnly = await guardedBy(parent.name);
  const childOnly = await guardedBy(child.name);
  assert.equal(await parentOnly(u), true);
  await rest('PUT', `/roles/${parent.id}`, { master: true, body: { roles: { __op: 'RemoveRelation', objects: [rolePtr(child.id)] } } });
  assert.equal(await parentOnly(u), false);
  assert.equal(await childOnly(u), true);
  const del = await rest('DELETE', `/roles/${child.id}`, { master: true });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  // Parse Server does not clear its per-user role cache on a role delete, so the access can
  // outlive the role by up to the cache TTL (5 s by default); it must be gone after that.
  const deadline = Date.now() + 10000;
  while ((await childOnly(u)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  assert.equal(await childOnly(u), false);
});

test('a role\'s own ACL protects it: others cannot add themselves (101) or see a private role', async () => {
  const owner = await signUp();
  const intruder = await signUp();
  const acl = { '*': { read: true }, [owner.id]: { read: true, write: true } };
  const create = await rest('POST', '/roles', { sessionToken: owner.token, body: { name: uniqueClass('Owned'), ACL: acl } });
  assert.equal(create.status, 201);
  const id = create.body.objectId;
  const join = await rest('PUT', `/roles/${id}`, {
    sessionToken: intruder.token,
    body: { users: { __op: 'AddRelation', objects: [userPtr(intruder.id)] } },
  });
  assert.equal(join.status, 404);
  assert.deepEqual(join.body, NOT_FOUND);
  const del = await rest('DELETE', `/roles/${id}`, { sessionToken: intruder.token });
  assert.deepEqual(del.body, NOT_FOUND);
  const ownerAdd = await rest('PUT', `/roles/${id}`, {
    sessionToken: owner.token,
    body: { users: { __op: 'AddRelation', objects: [userPtr(owner.id)] } },
  });
  assert.equal(ownerAdd.status, 200);

  const privateName = uniqueClass('Private');
  const priv = await rest('POST', '/roles', { sessionToken: owner.token, body: { name: privateName, ACL: { [owner.id]: { read: true, write: true } } } });
  assert.deepEqual((await rest('GET', `/roles/${priv.body.objectId}`, { sessionToken: intruder.token })).body, NOT_FOUND);
  const found = await rest('GET', '/roles', { sessionToken: intruder.token, query: { where: { name: privateName } } });
  assert.deepEqual(found.body, { results: [] });
  assert.equal((await rest('GET', '/roles', { sessionToken: owner.token, query: { where: { name: privateName } } })).body.results.length, 1);
});

test('membership of a role the member cannot read still grants its access', async () => {
  const u = await signUp();
  const role = await makeRole([u], [], {}); // empty ACL: only the master key sees the role
  assert.deepEqual((await rest('GET', `/roles/${role.id}`, { sessionToken: u.token })).body, NOT_FOUND);
  const allowed = await guardedBy(role.name);
  assert.equal(await allowed(u), true);
});

test('role write access in an object ACL lets members update and delete', async () => {
  const member = await signUp();
  const outsider = await signUp();
  const role = await makeRole([member]);
  const C = uniqueClass('RoleWrite');
  const acl = { '*': { read: true }, [`role:${role.name}`]: { write: true } };
  const id = (await rest('POST', `/classes/${C}`, { master: true, body: { v: 1, ACL: acl } })).body.objectId;
  assert.deepEqual((await rest('PUT', `/classes/${C}/${id}`, { sessionToken: outsider.token, body: { v: 2 } })).body, NOT_FOUND);
  assert.equal((await rest('PUT', `/classes/${C}/${id}`, { sessionToken: member.token, body: { v: 3 } })).status, 200);
  assert.equal((await rest('GET', `/classes/${C}/${id}`)).body.v, 3);
  assert.equal((await rest('DELETE', `/classes/${C}/${id}`, { sessionToken: member.token })).status, 200);
});
