'use strict';
// Parse.Schema and the /schemas routes.
const assert = require('node:assert/strict');
const { test, useServer, rest, uniqueClass, parseError, Parse } = require('../helpers/server');

useServer();

// The class-level permissions Parse gives a new class (both storage adapters use this default).
const DEFAULT_CLP = {
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

test('Parse.Schema creates a class with a field of every type', async () => {
  const C = uniqueClass('Sch');
  const schema = new Parse.Schema(C);
  schema
    .addString('str')
    .addNumber('num')
    .addBoolean('bool')
    .addDate('date')
    .addArray('arr')
    .addObject('obj')
    .addGeoPoint('geo')
    .addPolygon('poly')
    .addFile('file')
    .addBytes('bytes')
    .addPointer('ptr', '_User')
    .addRelation('rel', '_User');
  const res = await schema.save();
  assert.equal(res.className, C);
  assert.deepEqual(res.fields, {
    objectId: { type: 'String' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
    ACL: { type: 'ACL' },
    str: { type: 'String' },
    num: { type: 'Number' },
    bool: { type: 'Boolean' },
    date: { type: 'Date' },
    arr: { type: 'Array' },
    obj: { type: 'Object' },
    geo: { type: 'GeoPoint' },
    poly: { type: 'Polygon' },
    file: { type: 'File' },
    bytes: { type: 'Bytes' },
    ptr: { type: 'Pointer', targetClass: '_User' },
    rel: { type: 'Relation', targetClass: '_User' },
  });
  assert.deepEqual(res.classLevelPermissions, DEFAULT_CLP);
});

test('Parse.Schema get returns fields, default CLPs and indexes', async () => {
  const C = uniqueClass('Sch');
  const schema = new Parse.Schema(C);
  schema.addString('title').addNumber('rank').addIndex('title_1', { title: 1 });
  await schema.save();
  const got = await new Parse.Schema(C).get();
  assert.equal(got.className, C);
  assert.deepEqual(got.fields, {
    objectId: { type: 'String' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
    ACL: { type: 'ACL' },
    title: { type: 'String' },
    rank: { type: 'Number' },
  });
  assert.deepEqual(got.classLevelPermissions, DEFAULT_CLP);
  assert.deepEqual(got.indexes.title_1, { title: 1 });
  assert.deepEqual(got.indexes._id_, { _id: 1 });
});

test('required fields with a defaultValue fill in missing values on create', async () => {
  const C = uniqueClass('Sch');
  const schema = new Parse.Schema(C);
  schema.addString('status', { required: true, defaultValue: 'new' }).addNumber('n');
  const res = await schema.save();
  assert.deepEqual(res.fields.status, { type: 'String', required: true, defaultValue: 'new' });
  const obj = await new Parse.Object(C).save({ n: 1 });
  assert.equal(obj.get('status'), 'new');
  const wire = await rest('GET', `/classes/${C}/${obj.id}`);
  assert.equal(wire.body.status, 'new');
});

test('update adds fields and keeps the existing ones', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Schema(C).addString('a').save();
  const s = new Parse.Schema(C);
  s.addNumber('b').addDate('c');
  const res = await s.update();
  assert.deepEqual(res.fields.a, { type: 'String' });
  assert.deepEqual(res.fields.b, { type: 'Number' });
  assert.deepEqual(res.fields.c, { type: 'Date' });
});

test('deleteField removes the field from the schema and from stored objects', async () => {
  const C = uniqueClass('Sch');
  const obj = await new Parse.Object(C).save({ keep: 1, drop: 'x' });
  const s = new Parse.Schema(C);
  s.deleteField('drop');
  const res = await s.update();
  assert.equal('drop' in res.fields, false);
  assert.deepEqual(res.fields.keep, { type: 'Number' });
  const wire = await rest('GET', `/classes/${C}/${obj.id}`);
  assert.equal(wire.body.keep, 1);
  assert.equal('drop' in wire.body, false);
});

test('addIndex and deleteIndex', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Schema(C).addNumber('score').addString('name').save();
  const add = new Parse.Schema(C);
  add.addIndex('score_desc', { score: -1 });
  const added = await add.update();
  assert.deepEqual(added.indexes.score_desc, { score: -1 });
  const del = new Parse.Schema(C);
  del.deleteIndex('score_desc');
  const deleted = await del.update();
  assert.equal('score_desc' in (deleted.indexes || {}), false);
});

test('delete: refused (255) while the class has objects; allowed after purge', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Object(C).save({ n: 1 });
  const err = await parseError(new Parse.Schema(C).delete());
  assert.equal(err.code, 255);
  assert.equal(err.message, `Class ${C} is not empty, contains 1 objects, cannot drop schema.`);
  await new Parse.Schema(C).purge();
  assert.equal(await new Parse.Query(C).count(), 0);
  await new Parse.Schema(C).delete();
  const gone = await parseError(new Parse.Schema(C).get());
  assert.equal(gone.code, 103);
  assert.equal(gone.message, `Class ${C} does not exist.`);
});

test('REST DELETE /schemas of a non-empty class answers 400 code 255', async () => {
  const C = uniqueClass('Sch');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  await rest('POST', `/classes/${C}`, { body: { n: 2 } });
  const r = await rest('DELETE', `/schemas/${C}`, { master: true });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    code: 255,
    error: `Class ${C} is not empty, contains 2 objects, cannot drop schema.`,
  });
  const still = await rest('GET', `/schemas/${C}`, { master: true });
  assert.equal(still.status, 200);
});

test('deleting an empty or unknown class answers {}', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Schema(C).addString('a').save();
  const r = await rest('DELETE', `/schemas/${C}`, { master: true });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {});
  const unknown = await rest('DELETE', `/schemas/${uniqueClass('Never')}`, { master: true });
  assert.equal(unknown.status, 200);
  assert.deepEqual(unknown.body, {});
});

test('Parse.Schema.all lists the created classes and the built-in _User and _Role', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Schema(C).addString('a').save();
  const all = await Parse.Schema.all();
  const names = all.map((s) => s.className);
  assert.ok(names.includes(C));
  assert.ok(names.includes('_User'));
  assert.ok(names.includes('_Role'));
  const mine = all.find((s) => s.className === C);
  assert.deepEqual(mine.fields.a, { type: 'String' });
  const r = await rest('GET', '/schemas', { master: true });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['results']);
  assert.ok(r.body.results.some((s) => s.className === C));
});

test('a type conflict is code 111 through the SDK', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Schema(C).addNumber('num').save();
  const err = await parseError(new Parse.Object(C).save({ num: 'not a number' }));
  assert.ok(err instanceof Parse.Error);
  assert.equal(err.code, Parse.Error.INCORRECT_TYPE);
  assert.equal(err.message, `schema mismatch for ${C}.num; expected Number but got String`);
});

test('a type conflict is HTTP 400 code 111 over REST, on create and update', async () => {
  const C = uniqueClass('Sch');
  const id = (await rest('POST', `/classes/${C}`, { body: { flag: true } })).body.objectId;
  const create = await rest('POST', `/classes/${C}`, { body: { flag: 'yes' } });
  assert.equal(create.status, 400);
  assert.deepEqual(create.body, {
    code: 111,
    error: `schema mismatch for ${C}.flag; expected Boolean but got String`,
  });
  const update = await rest('PUT', `/classes/${C}/${id}`, { body: { flag: 1 } });
  assert.equal(update.status, 400);
  assert.deepEqual(update.body, {
    code: 111,
    error: `schema mismatch for ${C}.flag; expected Boolean but got Number`,
  });
});

test('schema routes without the master key answer 403 {"error":"Permission denied"}', async () => {
  const C = uniqueClass('Sch');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const calls = [
    ['GET', '/schemas'],
    ['GET', `/schemas/${C}`],
    ['POST', `/schemas/${uniqueClass('Sch')}`, {}],
    ['PUT', `/schemas/${C}`, { fields: { b: { type: 'String' } } }],
    ['DELETE', `/schemas/${C}`],
  ];
  for (const [method, path, body] of calls) {
    const r = await rest(method, path, { body });
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.deepEqual(r.body, { error: 'Permission denied' }, `${method} ${path}`);
  }
  const wrongKey = await rest('GET', '/schemas', { headers: { 'X-Parse-Master-Key': 'not-the-key' } });
  assert.equal(wrongKey.status, 403);
  assert.deepEqual(wrongKey.body, { error: 'Permission denied' });
});

test('creating a class that exists is code 103', async () => {
  const C = uniqueClass('Sch');
  await new Parse.Schema(C).addString('a').save();
  const err = await parseError(new Parse.Schema(C).save());
  assert.equal(err.code, 103);
  assert.equal(err.message, `Class ${C} already exists.`);
});

test('invalid field names and types are rejected', async () => {
  const badName = new Parse.Schema(uniqueClass('Sch'));
  badName.addField('bad-name', 'String');
  const e1 = await parseError(badName.save());
  assert.equal(e1.code, 105);
  assert.equal(e1.message, 'invalid field name: bad-name');
  const r = await rest('POST', `/schemas/${uniqueClass('Sch')}`, {
    master: true,
    body: { fields: { a: { type: 'Bogus' } } },
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 111, error: 'invalid field type: Bogus' });
  const ptr = await rest('POST', `/schemas/${uniqueClass('Sch')}`, {
    master: true,
    body: { fields: { a: { type: 'Pointer' } } },
  });
  assert.equal(ptr.status, 400);
  assert.deepEqual(ptr.body, { code: 135, error: 'type Pointer needs a class name' });
});

test('invalid class names are code 103 on /schemas', async () => {
  const r = await rest('POST', '/schemas/Bad-Name', { master: true, body: {} });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    code: 103,
    error:
      'Invalid classname: Bad-Name, classnames can only have alphanumeric characters and _, and must start with an alpha character ',
  });
  const underscore = await rest('POST', '/schemas/_Nope', { master: true, body: {} });
  assert.equal(underscore.status, 400);
  assert.equal(underscore.body.code, 103);
});

test('REST schema edit errors: missing field, changed type, unknown class, name mismatch', async () => {
  const C = uniqueClass('Sch');
  const created = await rest('POST', `/schemas/${C}`, {
    master: true,
    body: { fields: { b: { type: 'Number' } } },
  });
  assert.equal(created.status, 200);
  const missing = await rest('PUT', `/schemas/${C}`, { master: true, body: { fields: { nope: { __op: 'Delete' } } } });
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.body, { code: 255, error: 'Field nope does not exist, cannot delete.' });
  const retype = await rest('PUT', `/schemas/${C}`, { master: true, body: { fields: { b: { type: 'String' } } } });
  assert.equal(retype.status, 400);
  assert.deepEqual(retype.body, { code: 255, error: 'Field b exists, cannot update.' });
  const never = uniqueClass('Never');
  const unknown = await rest('PUT', `/schemas/${never}`, { master: true, body: { fields: { a: { type: 'String' } } } });
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body, { code: 103, error: `Class ${never} does not exist.` });
  const mismatch = await rest('POST', `/schemas/${C}`, { master: true, body: { className: 'Other' } });
  assert.equal(mismatch.status, 400);
  assert.deepEqual(mismatch.body, { code: 103, error: `Class name mismatch between Other and ${C}.` });
  const noName = await rest('POST', '/schemas', { master: true, body: {} });
  assert.equal(noName.status, 400);
  assert.deepEqual(noName.body, { code: 135, error: 'POST /schemas needs a class name.' });
});

test('REST POST /schemas answers the created schema', async () => {
  const C = uniqueClass('Sch');
  const r = await rest('POST', '/schemas', {
    master: true,
    body: { className: C, fields: { name: { type: 'String' }, owner: { type: 'Pointer', targetClass: '_User' } } },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.className, C);
  assert.deepEqual(r.body.fields, {
    objectId: { type: 'String' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
    ACL: { type: 'ACL' },
    name: { type: 'String' },
    owner: { type: 'Pointer', targetClass: '_User' },
  });
  assert.deepEqual(r.body.classLevelPermissions, DEFAULT_CLP);
});
