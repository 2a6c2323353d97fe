'use strict';
// Object lifecycle: create, get, update, delete through REST and through the SDK.
const assert = require('node:assert/strict');
const {
  test,
  useServer,
  rest,
  uniqueClass,
  parseError,
  Parse,
  OBJECT_ID_RE,
  ISO_DATE_RE,
} = require('../helpers/server');

const server = useServer();

test('REST create answers 201 with exactly objectId and createdAt, and a Location header', async () => {
  const C = uniqueClass('Obj');
  const r = await rest('POST', `/classes/${C}`, { body: { name: 'a', n: 1 } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'objectId']);
  assert.match(r.body.objectId, OBJECT_ID_RE);
  assert.match(r.body.createdAt, ISO_DATE_RE);
  assert.equal(r.headers.get('location'), `${server.url}/classes/${C}/${r.body.objectId}`);
});

test('REST get returns the stored fields with objectId, createdAt and updatedAt', async () => {
  const C = uniqueClass('Obj');
  const created = await rest('POST', `/classes/${C}`, { body: { name: 'alpha', n: 42, ok: true } });
  const r = await rest('GET', `/classes/${C}/${created.body.objectId}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    objectId: created.body.objectId,
    createdAt: created.body.createdAt,
    updatedAt: created.body.createdAt,
    name: 'alpha',
    n: 42,
    ok: true,
  });
});

test('REST update answers 200 with exactly updatedAt, later than createdAt', async () => {
  const C = uniqueClass('Obj');
  const created = await rest('POST', `/classes/${C}`, { body: { name: 'a' } });
  await new Promise((r) => setTimeout(r, 5));
  const r = await rest('PUT', `/classes/${C}/${created.body.objectId}`, { body: { name: 'b' } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
  assert.match(r.body.updatedAt, ISO_DATE_RE);
  assert.ok(new Date(r.body.updatedAt) > new Date(created.body.createdAt));
  const got = await rest('GET', `/classes/${C}/${created.body.objectId}`);
  assert.equal(got.body.name, 'b');
  assert.equal(got.body.updatedAt, r.body.updatedAt);
  assert.equal(got.body.createdAt, created.body.createdAt);
});

test('REST delete answers 200 {} and the object is gone (404, code 101)', async () => {
  const C = uniqueClass('Obj');
  const created = await rest('POST', `/classes/${C}`, { body: { name: 'a' } });
  const r = await rest('DELETE', `/classes/${C}/${created.body.objectId}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {});
  const got = await rest('GET', `/classes/${C}/${created.body.objectId}`);
  assert.equal(got.status, 404);
  assert.deepEqual(got.body, { code: 101, error: 'Object not found.' });
});

test('update and delete of a missing object answer 404 with code 101', async () => {
  const C = uniqueClass('Obj');
  await rest('POST', `/classes/${C}`, { body: { name: 'a' } });
  const put = await rest('PUT', `/classes/${C}/AbCdE12345`, { body: { name: 'b' } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, { code: 101, error: 'Object not found.' });
  const del = await rest('DELETE', `/classes/${C}/AbCdE12345`);
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, { code: 101, error: 'Object not found.' });
});

test('a class that was never created: get is 404/101, find is an empty result list', async () => {
  const C = uniqueClass('Never');
  const get = await rest('GET', `/classes/${C}/AbCdE12345`);
  assert.equal(get.status, 404);
  assert.deepEqual(get.body, { code: 101, error: 'Object not found.' });
  const find = await rest('GET', `/classes/${C}`);
  assert.equal(find.status, 200);
  assert.deepEqual(find.body, { results: [] });
  const count = await rest('GET', `/classes/${C}`, { query: { count: 1, limit: 0 } });
  assert.deepEqual(count.body, { results: [], count: 0 });
});

test('SDK save assigns a 10-character id and Date timestamps', async () => {
  const C = uniqueClass('Obj');
  const obj = new Parse.Object(C);
  obj.set('title', 'hello');
  await obj.save();
  assert.match(obj.id, OBJECT_ID_RE);
  assert.ok(obj.createdAt instanceof Date);
  assert.ok(obj.updatedAt instanceof Date);
  assert.equal(obj.createdAt.getTime(), obj.updatedAt.getTime());
  assert.equal(obj.dirty(), false);
});

test('SDK fetch loads every field of an object by id', async () => {
  const C = uniqueClass('Obj');
  const obj = new Parse.Object(C);
  await obj.save({ title: 'hello', count: 3, tags: ['a', 'b'] });
  const fresh = Parse.Object.extend(C).createWithoutData(obj.id);
  assert.equal(fresh.has('title'), false);
  await fresh.fetch();
  assert.equal(fresh.get('title'), 'hello');
  assert.equal(fresh.get('count'), 3);
  assert.deepEqual(fresh.get('tags'), ['a', 'b']);
  assert.equal(fresh.createdAt.toISOString(), obj.createdAt.toISOString());
});

test('SDK query.get returns the object; a missing id rejects with ParseError 101', async () => {
  const C = uniqueClass('Obj');
  const obj = new Parse.Object(C);
  await obj.save({ title: 'x' });
  const got = await new Parse.Query(C).get(obj.id);
  assert.equal(got.id, obj.id);
  assert.equal(got.get('title'), 'x');
  const err = await parseError(new Parse.Query(C).get('ZzZzZzZzZz'));
  assert.ok(err instanceof Parse.Error);
  assert.equal(err.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(err.message, 'Object not found.');
});

test('SDK update sends only changed fields and keeps the others', async () => {
  const C = uniqueClass('Obj');
  const obj = new Parse.Object(C);
  await obj.save({ a: 1, b: 'keep' });
  const partial = new Parse.Object(C);
  partial.id = obj.id;
  partial.set('a', 2);
  await partial.save();
  const r = await rest('GET', `/classes/${C}/${obj.id}`);
  assert.equal(r.body.a, 2);
  assert.equal(r.body.b, 'keep');
  assert.ok(partial.updatedAt.getTime() >= obj.createdAt.getTime());
});

test('SDK destroy deletes the object; a later fetch rejects with 101', async () => {
  const C = uniqueClass('Obj');
  const obj = new Parse.Object(C);
  await obj.save({ a: 1 });
  await obj.destroy();
  const r = await rest('GET', `/classes/${C}/${obj.id}`);
  assert.equal(r.status, 404);
  const again = new Parse.Object(C);
  again.id = obj.id;
  const err = await parseError(again.fetch());
  assert.equal(err.code, 101);
  assert.equal(err.message, 'Object not found.');
});

test('SDK unset removes a field on the server', async () => {
  const C = uniqueClass('Obj');
  const obj = new Parse.Object(C);
  await obj.save({ a: 1, b: 2 });
  obj.unset('b');
  await obj.save();
  const r = await rest('GET', `/classes/${C}/${obj.id}`);
  assert.equal(r.body.a, 1);
  assert.equal('b' in r.body, false);
  const got = await new Parse.Query(C).get(obj.id);
  assert.equal(got.has('b'), false);
});

test('many creates get distinct 10-character alphanumeric ids', async () => {
  const C = uniqueClass('Obj');
  const objs = Array.from({ length: 25 }, (_, i) => new Parse.Object(C, { i }));
  await Parse.Object.saveAll(objs);
  const ids = new Set(objs.map((o) => o.id));
  assert.equal(ids.size, 25);
  for (const id of ids) assert.match(id, OBJECT_ID_RE);
});

test('client-supplied objectId on create is rejected with 105', async () => {
  const C = uniqueClass('Obj');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const r = await rest('POST', `/classes/${C}`, { body: { objectId: 'abcdefghij', a: 2 } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 105, error: 'objectId is an invalid field name.' });
});

test('an object without public read ACL is invisible without the master key', async () => {
  const C = uniqueClass('Acl');
  const created = await rest('POST', `/classes/${C}`, {
    body: { secret: 's', ACL: { 'role:admin': { read: true, write: true } } },
  });
  assert.equal(created.status, 201);
  const anon = await rest('GET', `/classes/${C}/${created.body.objectId}`);
  assert.equal(anon.status, 404);
  assert.deepEqual(anon.body, { code: 101, error: 'Object not found.' });
  const list = await rest('GET', `/classes/${C}`);
  assert.deepEqual(list.body, { results: [] });
  const master = await rest('GET', `/classes/${C}/${created.body.objectId}`, { master: true });
  assert.equal(master.status, 200);
  assert.equal(master.body.secret, 's');
  assert.deepEqual(master.body.ACL, { 'role:admin': { read: true, write: true } });
});

test('an ACL set through the SDK round-trips on the wire', async () => {
  const C = uniqueClass('Acl');
  const obj = new Parse.Object(C);
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  acl.setPublicWriteAccess(false);
  obj.setACL(acl);
  await obj.save({ a: 1 });
  const r = await rest('GET', `/classes/${C}/${obj.id}`);
  assert.deepEqual(r.body.ACL, { '*': { read: true } });
  const put = await rest('PUT', `/classes/${C}/${obj.id}`, { body: { a: 2 } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, { code: 101, error: 'Object not found.' });
  const got = await new Parse.Query(C).get(obj.id);
  assert.equal(got.getACL().getPublicReadAccess(), true);
  assert.equal(got.getACL().getPublicWriteAccess(), false);
});
