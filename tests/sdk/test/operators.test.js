'use strict';
// Update operators (__op): Increment, Add, AddUnique, Remove, Delete, AddRelation, RemoveRelation.
const assert = require('node:assert/strict');
const { test, useServer, rest, uniqueClass, Parse, ISO_DATE_RE } = require('../helpers/server');

useServer();

async function create(C, body) {
  const r = await rest('POST', `/classes/${C}`, { body });
  assert.equal(r.status, 201);
  return r.body.objectId;
}

// Order-insensitive comparison for array operators whose point is membership, not order.
const stable = (v) =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
        .join(',')}}`
    : Array.isArray(v)
      ? `[${v.map(stable).join(',')}]`
      : JSON.stringify(v);
const canon = (arr) => arr.map(stable).sort();

async function get(C, id) {
  const r = await rest('GET', `/classes/${C}/${id}`);
  assert.equal(r.status, 200);
  return r.body;
}

test('Increment: the update response carries the new value of the incremented field', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { n: 5 });
  const r = await rest('PUT', `/classes/${C}/${id}`, { body: { n: { __op: 'Increment', amount: 3 } } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['n', 'updatedAt']);
  assert.equal(r.body.n, 8);
  assert.match(r.body.updatedAt, ISO_DATE_RE);
  assert.equal((await get(C, id)).n, 8);
});

test('Increment: negative and fractional amounts (SDK increment/decrement)', async () => {
  const C = uniqueClass('Op');
  const obj = await new Parse.Object(C).save({ n: 10 });
  obj.decrement('n', 4);
  await obj.save();
  assert.equal(obj.get('n'), 6);
  obj.increment('n', 0.5);
  await obj.save();
  assert.equal(obj.get('n'), 6.5);
  assert.equal((await get(C, obj.id)).n, 6.5);
});

test('Increment on a missing field starts from zero', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { other: 1 });
  const r = await rest('PUT', `/classes/${C}/${id}`, { body: { fresh: { __op: 'Increment', amount: 2 } } });
  assert.equal(r.status, 200);
  assert.equal(r.body.fresh, 2);
  assert.equal((await get(C, id)).fresh, 2);
});

test('Increment is atomic under concurrent updates', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { n: 0 });
  await Promise.all(
    Array.from({ length: 10 }, () =>
      rest('PUT', `/classes/${C}/${id}`, { body: { n: { __op: 'Increment', amount: 1 } } })
    )
  );
  assert.equal((await get(C, id)).n, 10);
});

test('Increment of a String field is a 111 schema mismatch', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { s: 'text' });
  const r = await rest('PUT', `/classes/${C}/${id}`, { body: { s: { __op: 'Increment', amount: 1 } } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    code: 111,
    error: `schema mismatch for ${C}.s; expected String but got Number`,
  });
});

test('Add appends every object in order, duplicates included', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { list: [1, 2] });
  const r = await rest('PUT', `/classes/${C}/${id}`, {
    body: { list: { __op: 'Add', objects: [2, 3, 'x'] } },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.list, [1, 2, 2, 3, 'x']);
  assert.deepEqual((await get(C, id)).list, [1, 2, 2, 3, 'x']);
});

test('AddUnique appends only values not already present, keeping order', async () => {
  const C = uniqueClass('Op');
  const obj = await new Parse.Object(C).save({ tags: ['a', 'b'] });
  obj.addAllUnique('tags', ['b', 'c', 'a', 'd']);
  await obj.save();
  assert.deepEqual((await get(C, obj.id)).tags, ['a', 'b', 'c', 'd']);
  assert.deepEqual(obj.get('tags'), ['a', 'b', 'c', 'd']);
});

test('Remove deletes every occurrence of each given value', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { list: [1, 2, 1, 3, 'a', 1] });
  const r = await rest('PUT', `/classes/${C}/${id}`, {
    body: { list: { __op: 'Remove', objects: [1, 'a', 99] } },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.list, [2, 3]);
  assert.deepEqual((await get(C, id)).list, [2, 3]);
});

test('Add, AddUnique and Remove on missing fields', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { other: 1 });
  const r = await rest('PUT', `/classes/${C}/${id}`, {
    body: {
      added: { __op: 'Add', objects: [1, 1] },
      uniq: { __op: 'AddUnique', objects: [1, 1, 2] },
      removed: { __op: 'Remove', objects: [1] },
    },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.added, [1, 1]);
  assert.deepEqual(canon(r.body.uniq), canon([1, 2]));
  assert.deepEqual(r.body.removed, []);
  const row = await get(C, id);
  assert.deepEqual(row.added, [1, 1]);
  assert.deepEqual(canon(row.uniq), canon([1, 2]));
  assert.deepEqual(row.removed, []);
});

test('AddUnique and Remove compare objects and pointers by value', async () => {
  const C = uniqueClass('Op');
  const ptr = { __type: 'Pointer', className: 'Thing', objectId: 'abc1234567' };
  const id = await create(C, { list: [{ k: 1 }, ptr] });
  await rest('PUT', `/classes/${C}/${id}`, {
    body: { list: { __op: 'AddUnique', objects: [{ k: 1 }, { k: 2 }, ptr] } },
  });
  assert.deepEqual(canon((await get(C, id)).list), canon([{ k: 1 }, ptr, { k: 2 }]));
  await rest('PUT', `/classes/${C}/${id}`, {
    body: { list: { __op: 'Remove', objects: [{ k: 1 }, ptr] } },
  });
  assert.deepEqual((await get(C, id)).list, [{ k: 2 }]);
});

test('Delete removes the field; the response carries only updatedAt', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { a: 1, b: 'gone' });
  const r = await rest('PUT', `/classes/${C}/${id}`, { body: { b: { __op: 'Delete' } } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
  const row = await get(C, id);
  assert.equal(row.a, 1);
  assert.equal('b' in row, false);
});

test('Delete of a field the class has never had succeeds', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { a: 1 });
  const r = await rest('PUT', `/classes/${C}/${id}`, { body: { neverSeen: { __op: 'Delete' } } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
  const row = await get(C, id);
  assert.equal(row.a, 1);
  assert.equal('neverSeen' in row, false);
});

test('several operators and plain sets in one update', async () => {
  const C = uniqueClass('Op');
  const id = await create(C, { n: 1, list: ['x'], s: 'old', gone: true });
  const r = await rest('PUT', `/classes/${C}/${id}`, {
    body: {
      n: { __op: 'Increment', amount: 9 },
      list: { __op: 'Add', objects: ['y'] },
      s: 'new',
      gone: { __op: 'Delete' },
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.n, 10);
  assert.deepEqual(r.body.list, ['x', 'y']);
  const row = await get(C, id);
  assert.equal(row.n, 10);
  assert.deepEqual(row.list, ['x', 'y']);
  assert.equal(row.s, 'new');
  assert.equal('gone' in row, false);
});

test('AddRelation and RemoveRelation over REST, checked with $relatedTo', async () => {
  const C = uniqueClass('Op');
  const M = uniqueClass('Mem');
  const m1 = await create(M, { n: 1 });
  const m2 = await create(M, { n: 2 });
  const owner = await create(C, { name: 'o' });
  const p = (objectId) => ({ __type: 'Pointer', className: M, objectId });
  const add = await rest('PUT', `/classes/${C}/${owner}`, {
    body: { members: { __op: 'AddRelation', objects: [p(m1), p(m2)] } },
  });
  assert.equal(add.status, 200);
  const related = async () => {
    const r = await rest('GET', `/classes/${M}`, {
      query: {
        where: { $relatedTo: { object: { __type: 'Pointer', className: C, objectId: owner }, key: 'members' } },
        order: 'n',
      },
    });
    assert.equal(r.status, 200);
    return r.body.results.map((o) => o.objectId);
  };
  assert.deepEqual(await related(), [m1, m2]);
  const rm = await rest('PUT', `/classes/${C}/${owner}`, {
    body: { members: { __op: 'RemoveRelation', objects: [p(m1)] } },
  });
  assert.equal(rm.status, 200);
  assert.deepEqual(await related(), [m2]);
  assert.deepEqual((await get(C, owner)).members, { __type: 'Relation', className: M });
});

test('SDK relation add/remove', async () => {
  const C = uniqueClass('Op');
  const M = uniqueClass('Mem');
  const members = await Parse.Object.saveAll([1, 2, 3].map((n) => new Parse.Object(M, { n })));
  const owner = new Parse.Object(C);
  const rel = owner.relation('likes');
  rel.add(members);
  await owner.save();
  rel.remove(members[1]);
  await owner.save();
  const found = await owner.relation('likes').query().ascending('n').find();
  assert.deepEqual(found.map((o) => o.get('n')), [1, 3]);
});
