'use strict';
// Batch: Parse.Object.saveAll / destroyAll and the raw /batch route.
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

// Batch sub-request paths carry the mount path of the server URL (e.g. /parse/classes/X).
const mount = () => new URL(server.url).pathname.replace(/\/+$/, '');

async function count(C) {
  const r = await rest('GET', `/classes/${C}`, { query: { count: 1, limit: 0 } });
  assert.equal(r.status, 200);
  return r.body.count;
}

test('saveAll creates every object and assigns ids', async () => {
  const C = uniqueClass('Bat');
  const objs = Array.from({ length: 30 }, (_, n) => new Parse.Object(C, { n }));
  const saved = await Parse.Object.saveAll(objs);
  assert.equal(saved.length, 30);
  for (const o of saved) {
    assert.match(o.id, OBJECT_ID_RE);
    assert.ok(o.createdAt instanceof Date);
  }
  assert.equal(await count(C), 30);
});

test('saveAll mixes creates and updates', async () => {
  const C = uniqueClass('Bat');
  const existing = await new Parse.Object(C).save({ n: 1 });
  existing.set('n', 100);
  const fresh = new Parse.Object(C, { n: 2 });
  await Parse.Object.saveAll([existing, fresh]);
  const res = await new Parse.Query(C).ascending('n').find();
  assert.deepEqual(res.map((o) => o.get('n')), [2, 100]);
  assert.equal(res[1].id, existing.id);
});

test('saveAll rejects with the first sub-request error; the other objects are saved', async () => {
  const C = uniqueClass('Bat');
  await new Parse.Object(C).save({ n: 1 });
  const objs = [new Parse.Object(C, { n: 2 }), new Parse.Object(C, { n: 'bad' }), new Parse.Object(C, { n: 3 })];
  const err = await parseError(Parse.Object.saveAll(objs));
  assert.equal(err.code, 111);
  assert.equal(err.message, `schema mismatch for ${C}.n; expected Number but got String`);
  assert.match(objs[0].id, OBJECT_ID_RE);
  assert.equal(objs[1].id, undefined);
  assert.match(objs[2].id, OBJECT_ID_RE);
  assert.equal(await count(C), 3);
});

test('destroyAll deletes every object', async () => {
  const C = uniqueClass('Bat');
  const objs = await Parse.Object.saveAll([1, 2, 3, 4].map((n) => new Parse.Object(C, { n })));
  await Parse.Object.destroyAll(objs.slice(0, 3));
  const left = await new Parse.Query(C).find();
  assert.deepEqual(left.map((o) => o.id), [objs[3].id]);
});

test('destroyAll with a missing object rejects with AGGREGATE_ERROR listing a 101', async () => {
  const C = uniqueClass('Bat');
  const real = await new Parse.Object(C).save({ n: 1 });
  const ghost = Parse.Object.extend(C).createWithoutData('ZzZzZzZzZz');
  const err = await parseError(Parse.Object.destroyAll([real, ghost]));
  assert.equal(err.code, Parse.Error.AGGREGATE_ERROR);
  assert.equal(err.errors.length, 1);
  assert.equal(err.errors[0].code, 101);
  assert.equal(err.errors[0].message, 'Object not found.');
  assert.equal(err.errors[0].object.id, 'ZzZzZzZzZz');
  assert.equal(await count(C), 0);
});

test('raw /batch answers one {success} per sub-request with the route response shapes', async () => {
  const C = uniqueClass('Bat');
  const a = (await rest('POST', `/classes/${C}`, { body: { n: 1 } })).body.objectId;
  const b = (await rest('POST', `/classes/${C}`, { body: { n: 2 } })).body.objectId;
  const r = await rest('POST', '/batch', {
    body: {
      requests: [
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 3 } },
        { method: 'PUT', path: `${mount()}/classes/${C}/${a}`, body: { n: 10 } },
        { method: 'DELETE', path: `${mount()}/classes/${C}/${b}` },
      ],
    },
  });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body));
  assert.equal(r.body.length, 3);
  assert.deepEqual(Object.keys(r.body[0]), ['success']);
  assert.deepEqual(Object.keys(r.body[0].success).sort(), ['createdAt', 'objectId']);
  assert.match(r.body[0].success.objectId, OBJECT_ID_RE);
  assert.match(r.body[0].success.createdAt, ISO_DATE_RE);
  assert.deepEqual(Object.keys(r.body[1].success), ['updatedAt']);
  assert.match(r.body[1].success.updatedAt, ISO_DATE_RE);
  assert.deepEqual(r.body[2], { success: {} });
  const rows = await rest('GET', `/classes/${C}`, { query: { order: 'n' } });
  assert.deepEqual(rows.body.results.map((o) => o.n), [3, 10]);
});

test('raw /batch reports failing sub-requests as {error: {code, error}} and runs the rest', async () => {
  const C = uniqueClass('Bat');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  const r = await rest('POST', '/batch', {
    body: {
      requests: [
        { method: 'PUT', path: `${mount()}/classes/${C}/ZzZzZzZzZz`, body: { n: 3 } },
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 'str' } },
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 2 } },
      ],
    },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body[0], { error: { code: 101, error: 'Object not found.' } });
  assert.deepEqual(r.body[1], {
    error: { code: 111, error: `schema mismatch for ${C}.n; expected Number but got String` },
  });
  assert.ok(r.body[2].success);
  assert.equal(await count(C), 2);
});

test('raw /batch GET sub-requests answer {success: {results}}', async () => {
  const C = uniqueClass('Bat');
  const id = (await rest('POST', `/classes/${C}`, { body: { n: 7 } })).body.objectId;
  const r = await rest('POST', '/batch', {
    body: {
      requests: [
        { method: 'GET', path: `${mount()}/classes/${C}` },
        { method: 'GET', path: `${mount()}/classes/${C}/${id}` },
      ],
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body[0].success.results.length, 1);
  assert.equal(r.body[0].success.results[0].n, 7);
  assert.equal(r.body[1].success.objectId, id);
  assert.equal(r.body[1].success.n, 7);
});

test('raw /batch with transaction: true rolls everything back when one sub-request fails', async () => {
  const C = uniqueClass('Tx');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  const r = await rest('POST', '/batch', {
    body: {
      transaction: true,
      requests: [
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 2 } },
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 'bad' } },
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 4 } },
      ],
    },
  });
  assert.equal(r.status, 500);
  assert.deepEqual(r.body, { code: 1, message: 'Internal server error.' });
  const rows = await rest('GET', `/classes/${C}`);
  assert.deepEqual(rows.body.results.map((o) => o.n), [1]);
});

test('raw /batch with transaction: true rolls back updates and deletes too', async () => {
  const C = uniqueClass('Tx');
  const a = (await rest('POST', `/classes/${C}`, { body: { n: 1 } })).body.objectId;
  const b = (await rest('POST', `/classes/${C}`, { body: { n: 2 } })).body.objectId;
  const r = await rest('POST', '/batch', {
    body: {
      transaction: true,
      requests: [
        { method: 'PUT', path: `${mount()}/classes/${C}/${a}`, body: { n: 100 } },
        { method: 'DELETE', path: `${mount()}/classes/${C}/${b}` },
        { method: 'PUT', path: `${mount()}/classes/${C}/ZzZzZzZzZz`, body: { n: 5 } },
      ],
    },
  });
  assert.equal(r.status, 500);
  const rows = await rest('GET', `/classes/${C}`, { query: { order: 'n' } });
  assert.deepEqual(rows.body.results.map((o) => o.n), [1, 2]);
});

test('raw /batch with transaction: true commits when every sub-request succeeds', async () => {
  const C = uniqueClass('Tx');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  const r = await rest('POST', '/batch', {
    body: {
      transaction: true,
      requests: [
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 2 } },
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 3 } },
      ],
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 2);
  for (const item of r.body) assert.match(item.success.objectId, OBJECT_ID_RE);
  assert.equal(await count(C), 3);
});

test('saveAll with {transaction: true} saves nothing when one object fails', async () => {
  const C = uniqueClass('Tx');
  await new Parse.Object(C).save({ n: 1 });
  await assert.rejects(
    Parse.Object.saveAll([new Parse.Object(C, { n: 5 }), new Parse.Object(C, { n: 'x' })], { transaction: true })
  );
  assert.equal(await count(C), 1);
  await Parse.Object.saveAll([new Parse.Object(C, { n: 5 }), new Parse.Object(C, { n: 6 })], { transaction: true });
  assert.equal(await count(C), 3);
});

test('raw /batch request validation errors (code 107)', async () => {
  const C = uniqueClass('Bat');
  const noMount = await rest('POST', '/batch', {
    body: { requests: [{ method: 'POST', path: `/other/classes/${C}`, body: { n: 1 } }] },
  });
  assert.equal(noMount.status, 400);
  assert.deepEqual(noMount.body, { code: 107, error: `cannot route batch path /other/classes/${C}` });
  const notArray = await rest('POST', '/batch', { body: { requests: 'x' } });
  assert.equal(notArray.status, 400);
  assert.deepEqual(notArray.body, { code: 107, error: 'requests must be an array' });
  const missing = await rest('POST', '/batch', { body: {} });
  assert.deepEqual(missing.body, { code: 107, error: 'requests must be an array' });
  const noPath = await rest('POST', '/batch', { body: { requests: [{ method: 'POST' }] } });
  assert.equal(noPath.status, 400);
  assert.deepEqual(noPath.body, { code: 107, error: 'batch request path must be a string' });
  const nested = await rest('POST', '/batch', {
    body: { requests: [{ method: 'POST', path: `${mount()}/batch`, body: { requests: [] } }] },
  });
  assert.equal(nested.status, 400);
  assert.deepEqual(nested.body, { code: 107, error: 'nested batch requests are not allowed' });
  assert.equal(await count(C), 0);
});

test('raw /batch with an unroutable method fails as a whole with 107', async () => {
  const C = uniqueClass('Bat');
  const r = await rest('POST', '/batch', {
    body: {
      requests: [
        { method: 'POST', path: `${mount()}/classes/${C}`, body: { n: 1 } },
        { method: 'PATCH', path: `${mount()}/classes/${C}` },
      ],
    },
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 107, error: `cannot route PATCH /classes/${C}` });
});

test('raw /batch with no sub-requests answers []', async () => {
  const r = await rest('POST', '/batch', { body: { requests: [] } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, []);
});
