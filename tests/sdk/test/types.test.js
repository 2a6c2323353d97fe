'use strict';
// Every Parse field type, written through the SDK or REST and read back on the wire and by the SDK.
const assert = require('node:assert/strict');
const { test, useServer, rest, uniqueClass, Parse } = require('../helpers/server');

const server = useServer();

async function restGet(C, id) {
  const r = await rest('GET', `/classes/${C}/${id}`);
  assert.equal(r.status, 200);
  return r.body;
}

async function schemaFields(C) {
  const r = await rest('GET', `/schemas/${C}`, { master: true });
  assert.equal(r.status, 200);
  return r.body.fields;
}

test('String: unicode, quotes, backslashes, newlines and the empty string round-trip', async () => {
  const C = uniqueClass('Ty');
  const text = 'h\u00e9llo \ud83c\udf0d "q" \\ \n\ttab';
  const obj = await new Parse.Object(C).save({ text, empty: '' });
  const wire = await restGet(C, obj.id);
  assert.equal(wire.text, text);
  assert.equal(wire.empty, '');
  const got = await new Parse.Query(C).get(obj.id);
  assert.equal(got.get('text'), text);
  assert.equal(got.get('empty'), '');
  assert.deepEqual((await schemaFields(C)).text, { type: 'String' });
});

test('Number: integers, negatives, fractions, zero and 2^53-1 round-trip exactly', async () => {
  const C = uniqueClass('Ty');
  const values = { big: 9007199254740991, neg: -17.5, frac: 0.1, zero: 0, int: 42 };
  const created = await rest('POST', `/classes/${C}`, { body: values });
  const wire = await restGet(C, created.body.objectId);
  for (const [k, v] of Object.entries(values)) assert.equal(wire[k], v, k);
  const got = await new Parse.Query(C).get(created.body.objectId);
  assert.equal(got.get('big'), 9007199254740991);
  assert.equal(got.get('frac'), 0.1);
  assert.deepEqual((await schemaFields(C)).neg, { type: 'Number' });
});

test('Boolean: true and false round-trip and are queryable', async () => {
  const C = uniqueClass('Ty');
  const t = await new Parse.Object(C).save({ flag: true });
  const f = await new Parse.Object(C).save({ flag: false });
  assert.equal((await restGet(C, t.id)).flag, true);
  assert.equal((await restGet(C, f.id)).flag, false);
  const falses = await new Parse.Query(C).equalTo('flag', false).find();
  assert.deepEqual(falses.map((o) => o.id), [f.id]);
  assert.deepEqual((await schemaFields(C)).flag, { type: 'Boolean' });
});

test('Date: encoded as {__type: "Date", iso} with millisecond precision', async () => {
  const C = uniqueClass('Ty');
  const when = new Date('2020-01-02T03:04:05.678Z');
  const obj = await new Parse.Object(C).save({ when });
  const wire = await restGet(C, obj.id);
  assert.deepEqual(wire.when, { __type: 'Date', iso: '2020-01-02T03:04:05.678Z' });
  const got = await new Parse.Query(C).get(obj.id);
  assert.ok(got.get('when') instanceof Date);
  assert.equal(got.get('when').getTime(), when.getTime());
  assert.deepEqual((await schemaFields(C)).when, { type: 'Date' });
});

test('Object: nested objects (with nulls and arrays inside) round-trip', async () => {
  const C = uniqueClass('Ty');
  const value = { a: { b: { c: [1, 2, { d: true }] } }, n: null, s: 'x', arr: [null, 1] };
  const obj = await new Parse.Object(C).save({ doc: value });
  const wire = await restGet(C, obj.id);
  assert.deepEqual(wire.doc, value);
  const got = await new Parse.Query(C).get(obj.id);
  assert.deepEqual(got.get('doc'), value);
  assert.deepEqual((await schemaFields(C)).doc, { type: 'Object' });
});

test('Object: nested keys with "$" or "." are rejected with 121', async () => {
  const C = uniqueClass('Ty');
  const dot = await rest('POST', `/classes/${C}`, { body: { o: { 'a.b': 1 } } });
  assert.equal(dot.status, 400);
  assert.deepEqual(dot.body, {
    code: 121,
    error: "Nested keys should not contain the '$' or '.' characters",
  });
  const dollar = await rest('POST', `/classes/${C}`, { body: { o: { $a: 1 } } });
  assert.equal(dollar.status, 400);
  assert.equal(dollar.body.code, 121);
});

test('Array: mixed values, including encoded Dates and Pointers inside, round-trip', async () => {
  const C = uniqueClass('Ty');
  const target = await new Parse.Object(C).save({ tag: 'target' });
  const when = new Date('2021-06-07T08:09:10.111Z');
  const obj = await new Parse.Object(C).save({ list: [1, 'two', true, { k: 'v' }, [3], when, target] });
  const wire = await restGet(C, obj.id);
  assert.deepEqual(wire.list, [
    1,
    'two',
    true,
    { k: 'v' },
    [3],
    { __type: 'Date', iso: '2021-06-07T08:09:10.111Z' },
    { __type: 'Pointer', className: C, objectId: target.id },
  ]);
  const got = await new Parse.Query(C).get(obj.id);
  const list = got.get('list');
  assert.ok(list[5] instanceof Date);
  assert.equal(list[5].getTime(), when.getTime());
  assert.ok(list[6] instanceof Parse.Object);
  assert.equal(list[6].id, target.id);
  assert.deepEqual((await schemaFields(C)).list, { type: 'Array' });
});

test('Pointer: stored as {__type: "Pointer", className, objectId} and typed in the schema', async () => {
  const C = uniqueClass('Ty');
  const T = uniqueClass('Target');
  const target = await new Parse.Object(T).save({ name: 't' });
  const obj = await new Parse.Object(C).save({ owner: target });
  const wire = await restGet(C, obj.id);
  assert.deepEqual(wire.owner, { __type: 'Pointer', className: T, objectId: target.id });
  const got = await new Parse.Query(C).get(obj.id);
  const owner = got.get('owner');
  assert.ok(owner instanceof Parse.Object);
  assert.equal(owner.className, T);
  assert.equal(owner.id, target.id);
  assert.equal(owner.get('name'), undefined, 'a pointer is not fetched without include');
  assert.deepEqual((await schemaFields(C)).owner, { type: 'Pointer', targetClass: T });
});

test('Pointer: a pointer to a different class than the schema says is a 111 schema mismatch', async () => {
  const C = uniqueClass('Ty');
  const ok = await rest('POST', `/classes/${C}`, {
    body: { p: { __type: 'Pointer', className: 'Alpha', objectId: 'x1' } },
  });
  assert.equal(ok.status, 201);
  const bad = await rest('POST', `/classes/${C}`, {
    body: { p: { __type: 'Pointer', className: 'Beta', objectId: 'x1' } },
  });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, {
    code: 111,
    error: `schema mismatch for ${C}.p; expected Pointer<Alpha> but got Pointer<Beta>`,
  });
});

test('Relation: reads back as {__type: "Relation", className} and relation.query() finds members', async () => {
  const C = uniqueClass('Ty');
  const M = uniqueClass('Member');
  const [m1, m2, m3] = await Parse.Object.saveAll([
    new Parse.Object(M, { n: 1 }),
    new Parse.Object(M, { n: 2 }),
    new Parse.Object(M, { n: 3 }),
  ]);
  const owner = new Parse.Object(C);
  owner.relation('members').add([m1, m3]);
  await owner.save();
  const wire = await restGet(C, owner.id);
  assert.deepEqual(wire.members, { __type: 'Relation', className: M });
  const members = await owner.relation('members').query().ascending('n').find();
  assert.deepEqual(members.map((m) => m.id), [m1.id, m3.id]);
  assert.ok(m2.id);
  assert.deepEqual((await schemaFields(C)).members, { type: 'Relation', targetClass: M });
});

test('File: a {__type: "File", name, url} reference reads back with the server file URL', async () => {
  const C = uniqueClass('Ty');
  const created = await rest('POST', `/classes/${C}`, {
    body: { doc: { __type: 'File', name: 'report-abc.txt', url: 'http://example.com/report-abc.txt' } },
  });
  assert.equal(created.status, 201);
  const wire = await restGet(C, created.body.objectId);
  assert.deepEqual(wire.doc, {
    __type: 'File',
    name: 'report-abc.txt',
    url: `${server.url}/files/${server.appId}/report-abc.txt`,
  });
  const got = await new Parse.Query(C).get(created.body.objectId);
  assert.ok(got.get('doc') instanceof Parse.File);
  assert.equal(got.get('doc').name(), 'report-abc.txt');
  assert.equal(got.get('doc').url(), `${server.url}/files/${server.appId}/report-abc.txt`);
  assert.deepEqual((await schemaFields(C)).doc, { type: 'File' });
});

test('GeoPoint: stored as {__type: "GeoPoint", latitude, longitude}', async () => {
  const C = uniqueClass('Ty');
  const obj = await new Parse.Object(C).save({ where: new Parse.GeoPoint(40.7128, -74.006) });
  const wire = await restGet(C, obj.id);
  assert.deepEqual(wire.where, { __type: 'GeoPoint', latitude: 40.7128, longitude: -74.006 });
  const got = await new Parse.Query(C).get(obj.id);
  assert.ok(got.get('where') instanceof Parse.GeoPoint);
  assert.equal(got.get('where').latitude, 40.7128);
  assert.equal(got.get('where').longitude, -74.006);
  assert.deepEqual((await schemaFields(C)).where, { type: 'GeoPoint' });
});

test('Polygon: stored with its ring closed (first point repeated at the end)', async () => {
  const C = uniqueClass('Ty');
  const created = await rest('POST', `/classes/${C}`, {
    body: { area: { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1], [1, 0]] } },
  });
  assert.equal(created.status, 201);
  const wire = await restGet(C, created.body.objectId);
  assert.deepEqual(wire.area, {
    __type: 'Polygon',
    coordinates: [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]],
  });
  const got = await new Parse.Query(C).get(created.body.objectId);
  assert.ok(got.get('area') instanceof Parse.Polygon);
  assert.deepEqual(got.get('area').coordinates, [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]);
  assert.deepEqual((await schemaFields(C)).area, { type: 'Polygon' });
});

test('Polygon: fewer than 3 points is rejected with 107', async () => {
  const C = uniqueClass('Ty');
  const r = await rest('POST', `/classes/${C}`, {
    body: { area: { __type: 'Polygon', coordinates: [[0, 0], [1, 1]] } },
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 107, error: 'Polygon must have at least 3 values' });
});

test('Bytes: {__type: "Bytes", base64} round-trips', async () => {
  const C = uniqueClass('Ty');
  const created = await rest('POST', `/classes/${C}`, {
    body: { blob: { __type: 'Bytes', base64: 'aGVsbG8gd29ybGQ=' } },
  });
  assert.equal(created.status, 201);
  const wire = await restGet(C, created.body.objectId);
  assert.deepEqual(wire.blob, { __type: 'Bytes', base64: 'aGVsbG8gd29ybGQ=' });
  assert.deepEqual((await schemaFields(C)).blob, { type: 'Bytes' });
});

test('an unknown __type is rejected with 111', async () => {
  const C = uniqueClass('Ty');
  const r = await rest('POST', `/classes/${C}`, { body: { x: { __type: 'Bogus' } } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 111, error: 'This is not a valid Bogus' });
});

test('null: a field set to null reads back as null', async () => {
  const C = uniqueClass('Ty');
  const created = await rest('POST', `/classes/${C}`, { body: { s: 'x', keep: 1 } });
  const id = created.body.objectId;
  const put = await rest('PUT', `/classes/${C}/${id}`, { body: { s: null } });
  assert.equal(put.status, 200);
  const wire = await restGet(C, id);
  assert.equal(wire.keep, 1);
  assert.ok('s' in wire, 'a null field is returned (MongoDB semantics)');
  assert.equal(wire.s, null);
  const got = await new Parse.Query(C).get(id);
  assert.equal(got.get('s'), null);
});

test('types are inferred into the schema on first write', async () => {
  const C = uniqueClass('Ty');
  const r = await rest('POST', `/classes/${C}`, {
    body: {
      s: 'x',
      n: 1,
      b: false,
      d: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' },
      o: { k: 1 },
      a: [1],
      p: { __type: 'Pointer', className: 'Other', objectId: 'abc' },
      g: { __type: 'GeoPoint', latitude: 1, longitude: 2 },
      f: { __type: 'File', name: 'f.txt', url: 'http://example.com/f.txt' },
      y: { __type: 'Bytes', base64: 'AA==' },
      poly: { __type: 'Polygon', coordinates: [[0, 0], [0, 1], [1, 1]] },
    },
  });
  assert.equal(r.status, 201);
  const fields = await schemaFields(C);
  assert.deepEqual(fields, {
    objectId: { type: 'String' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
    ACL: { type: 'ACL' },
    s: { type: 'String' },
    n: { type: 'Number' },
    b: { type: 'Boolean' },
    d: { type: 'Date' },
    o: { type: 'Object' },
    a: { type: 'Array' },
    p: { type: 'Pointer', targetClass: 'Other' },
    g: { type: 'GeoPoint' },
    f: { type: 'File' },
    y: { type: 'Bytes' },
    poly: { type: 'Polygon' },
  });
});
