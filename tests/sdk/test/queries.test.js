'use strict';
// Parse.Query constraints, modifiers and result shapes.
const assert = require('node:assert/strict');
const { test, useServer, rest, uniqueClass, Parse, parseError } = require('../helpers/server');

useServer();

async function seed(C, rows) {
  return Parse.Object.saveAll(rows.map((r) => new Parse.Object(C, r)));
}

// The value of `key` on each result, sorted, for order-insensitive comparisons.
const sortedVals = (objs, key) =>
  objs.map((o) => o.get(key)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const vals = (objs, key) => objs.map((o) => o.get(key));

test('equalTo matches exact values (strings, numbers, booleans)', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'a', n: 1, ok: true },
    { name: 'b', n: 2, ok: false },
    { name: 'c', n: 1, ok: false },
  ]);
  assert.deepEqual(sortedVals(await new Parse.Query(C).equalTo('n', 1).find(), 'name'), ['a', 'c']);
  assert.deepEqual(vals(await new Parse.Query(C).equalTo('name', 'b').find(), 'n'), [2]);
  assert.deepEqual(
    sortedVals(await new Parse.Query(C).equalTo('ok', false).find(), 'name'),
    ['b', 'c']
  );
  assert.deepEqual(await new Parse.Query(C).equalTo('name', 'zzz').find(), []);
});

test('notEqualTo excludes the value and keeps objects lacking the field', async () => {
  const C = uniqueClass('Q');
  await seed(C, [{ name: 'a', color: 'red' }, { name: 'b', color: 'blue' }, { name: 'c' }]);
  const res = await new Parse.Query(C).notEqualTo('color', 'red').find();
  assert.deepEqual(sortedVals(res, 'name'), ['b', 'c']);
});

test('equalTo null matches objects without the field', async () => {
  const C = uniqueClass('Q');
  await seed(C, [{ name: 'a', color: 'red' }, { name: 'b' }]);
  const res = await new Parse.Query(C).equalTo('color', null).find();
  assert.deepEqual(vals(res, 'name'), ['b']);
});

test('lessThan and lessThanOrEqualTo', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4, 5].map((n) => ({ n })));
  assert.deepEqual(sortedVals(await new Parse.Query(C).lessThan('n', 3).find(), 'n'), [1, 2]);
  assert.deepEqual(sortedVals(await new Parse.Query(C).lessThanOrEqualTo('n', 3).find(), 'n'), [1, 2, 3]);
});

test('greaterThan and greaterThanOrEqualTo, combined into a range', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4, 5].map((n) => ({ n })));
  assert.deepEqual(sortedVals(await new Parse.Query(C).greaterThan('n', 3).find(), 'n'), [4, 5]);
  assert.deepEqual(sortedVals(await new Parse.Query(C).greaterThanOrEqualTo('n', 3).find(), 'n'), [3, 4, 5]);
  const range = await new Parse.Query(C).greaterThan('n', 1).lessThanOrEqualTo('n', 4).find();
  assert.deepEqual(sortedVals(range, 'n'), [2, 3, 4]);
});

test('comparisons on Date fields and on createdAt', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'old', when: new Date('2001-01-01T00:00:00.000Z') },
    { name: 'mid', when: new Date('2010-06-15T12:00:00.000Z') },
    { name: 'new', when: new Date('2030-01-01T00:00:00.000Z') },
  ]);
  const res = await new Parse.Query(C).greaterThan('when', new Date('2005-01-01T00:00:00.000Z')).find();
  assert.deepEqual(sortedVals(res, 'name'), ['mid', 'new']);
  const before = await new Parse.Query(C).lessThan('createdAt', new Date(Date.now() + 60000)).find();
  assert.equal(before.length, 3);
  const after = await new Parse.Query(C).greaterThan('createdAt', new Date(Date.now() + 60000)).find();
  assert.equal(after.length, 0);
});

test('containedIn and notContainedIn', async () => {
  const C = uniqueClass('Q');
  await seed(C, ['a', 'b', 'c', 'd'].map((name) => ({ name })));
  const inRes = await new Parse.Query(C).containedIn('name', ['a', 'c', 'zz']).find();
  assert.deepEqual(sortedVals(inRes, 'name'), ['a', 'c']);
  const ninRes = await new Parse.Query(C).notContainedIn('name', ['a', 'c']).find();
  assert.deepEqual(sortedVals(ninRes, 'name'), ['b', 'd']);
});

test('containedIn on objectId', async () => {
  const C = uniqueClass('Q');
  const objs = await seed(C, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const res = await new Parse.Query(C).containedIn('objectId', [objs[0].id, objs[2].id]).find();
  assert.deepEqual(sortedVals(res, 'n'), [1, 3]);
});

test('exists and doesNotExist', async () => {
  const C = uniqueClass('Q');
  await seed(C, [{ name: 'a', extra: 1 }, { name: 'b' }, { name: 'c', extra: 0 }]);
  assert.deepEqual(sortedVals(await new Parse.Query(C).exists('extra').find(), 'name'), ['a', 'c']);
  assert.deepEqual(vals(await new Parse.Query(C).doesNotExist('extra').find(), 'name'), ['b']);
});

test('containsAll on an array field', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'ab', tags: ['a', 'b'] },
    { name: 'abc', tags: ['a', 'b', 'c'] },
    { name: 'ac', tags: ['a', 'c'] },
  ]);
  const res = await new Parse.Query(C).containsAll('tags', ['a', 'b']).find();
  assert.deepEqual(sortedVals(res, 'name'), ['ab', 'abc']);
});

test('containedBy on an array field', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'ab', tags: ['a', 'b'] },
    { name: 'abd', tags: ['a', 'b', 'd'] },
    { name: 'c', tags: ['c'] },
  ]);
  const res = await new Parse.Query(C).containedBy('tags', ['a', 'b', 'c']).find();
  assert.deepEqual(sortedVals(res, 'name'), ['ab', 'c']);
});

test('containedIn on an array field matches arrays sharing any element', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'ab', tags: ['a', 'b'] },
    { name: 'cd', tags: ['c', 'd'] },
    { name: 'e', tags: ['e'] },
  ]);
  const res = await new Parse.Query(C).containedIn('tags', ['b', 'd']).find();
  assert.deepEqual(sortedVals(res, 'name'), ['ab', 'cd']);
});

test('equalTo on an array field matches arrays containing the value', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'ab', tags: ['red', 'blue'] },
    { name: 'c', tags: ['green'] },
    { name: 'd', tags: ['blue', 'red', 'green'] },
  ]);
  const res = await new Parse.Query(C).equalTo('tags', 'red').find();
  assert.deepEqual(sortedVals(res, 'name'), ['ab', 'd']);
});

test('matches: a regular expression, case-insensitive with option i', async () => {
  const C = uniqueClass('Q');
  await seed(C, ['Apple', 'apricot', 'banana', 'grape'].map((name) => ({ name })));
  const plain = await new Parse.Query(C).matches('name', '^ap').find();
  assert.deepEqual(vals(plain, 'name'), ['apricot']);
  const ci = await new Parse.Query(C).matches('name', '^ap', 'i').find();
  assert.deepEqual(sortedVals(ci, 'name'), ['Apple', 'apricot']);
  const re = await new Parse.Query(C).matches('name', /AP/i).find();
  assert.deepEqual(sortedVals(re, 'name'), ['Apple', 'apricot', 'grape']);
});

test('matches with option m anchors ^ at line starts', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'two', text: 'first line\nsecond line' },
    { name: 'one', text: 'only line' },
  ]);
  const multi = await new Parse.Query(C).matches('text', '^second', 'm').find();
  assert.deepEqual(vals(multi, 'name'), ['two']);
  const single = await new Parse.Query(C).matches('text', '^second').find();
  assert.deepEqual(single, []);
});

test('startsWith and endsWith treat the argument literally', async () => {
  const C = uniqueClass('Q');
  await seed(C, ['a.b-one', 'axb-two', 'one.x', 'three.x'].map((name) => ({ name })));
  const sw = await new Parse.Query(C).startsWith('name', 'a.b').find();
  assert.deepEqual(vals(sw, 'name'), ['a.b-one']);
  const ew = await new Parse.Query(C).endsWith('name', '.x').find();
  assert.deepEqual(sortedVals(ew, 'name'), ['one.x', 'three.x']);
});

test('fullText search matches words', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'a', body: 'I love coffee in the morning' },
    { name: 'b', body: 'Tea is better than nothing' },
    { name: 'c', body: 'coffee shops are busy' },
  ]);
  const res = await new Parse.Query(C).fullText('body', 'coffee').find();
  assert.deepEqual(sortedVals(res, 'name'), ['a', 'c']);
});

test('matchesKeyInQuery ($select) and doesNotMatchKeyInQuery ($dontSelect)', async () => {
  const P = uniqueClass('Person');
  const T = uniqueClass('Town');
  await seed(T, [
    { name: 'Paris', big: true },
    { name: 'Lyon', big: true },
    { name: 'Nyons', big: false },
  ]);
  await seed(P, [
    { who: 'ann', city: 'Paris' },
    { who: 'bob', city: 'Nyons' },
    { who: 'cat', city: 'Lyon' },
    { who: 'dan', city: 'Rome' },
  ]);
  const bigTowns = new Parse.Query(T).equalTo('big', true);
  const inBig = await new Parse.Query(P).matchesKeyInQuery('city', 'name', bigTowns).find();
  assert.deepEqual(sortedVals(inBig, 'who'), ['ann', 'cat']);
  const notBig = await new Parse.Query(P).doesNotMatchKeyInQuery('city', 'name', bigTowns).find();
  assert.deepEqual(sortedVals(notBig, 'who'), ['bob', 'dan']);
});

test('matchesQuery ($inQuery) and doesNotMatchQuery ($notInQuery) on pointers', async () => {
  const A = uniqueClass('Post');
  const U = uniqueClass('Author');
  const [vip, plain] = await seed(U, [{ vip: true }, { vip: false }]);
  await seed(A, [
    { title: 'p1', author: vip },
    { title: 'p2', author: plain },
    { title: 'p3', author: vip },
  ]);
  const vips = new Parse.Query(U).equalTo('vip', true);
  const inQ = await new Parse.Query(A).matchesQuery('author', vips).find();
  assert.deepEqual(sortedVals(inQ, 'title'), ['p1', 'p3']);
  const notInQ = await new Parse.Query(A).doesNotMatchQuery('author', vips).find();
  assert.deepEqual(vals(notInQ, 'title'), ['p2']);
});

test('equalTo a pointer matches objects pointing at it', async () => {
  const A = uniqueClass('Post');
  const U = uniqueClass('Author');
  const [u1, u2] = await seed(U, [{ n: 1 }, { n: 2 }]);
  await seed(A, [
    { title: 'x', author: u1 },
    { title: 'y', author: u2 },
  ]);
  const res = await new Parse.Query(A).equalTo('author', u2).find();
  assert.deepEqual(vals(res, 'title'), ['y']);
});

test('relatedTo ($relatedTo) finds the members of a relation, alone or with other constraints', async () => {
  const C = uniqueClass('Team');
  const M = uniqueClass('Player');
  const players = await seed(M, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const team = new Parse.Object(C);
  team.relation('players').add([players[0], players[2]]);
  await team.save();
  const res = await team.relation('players').query().find();
  assert.deepEqual(sortedVals(res, 'n'), [1, 3]);
  const r = await rest('GET', `/classes/${M}`, {
    query: {
      where: {
        $relatedTo: { object: { __type: 'Pointer', className: C, objectId: team.id }, key: 'players' },
        n: { $gt: 1 },
      },
    },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results.map((o) => o.n), [3]);
});

test('Parse.Query.or', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4, 5].map((n) => ({ n })));
  const q = Parse.Query.or(
    new Parse.Query(C).lessThan('n', 2),
    new Parse.Query(C).greaterThan('n', 4)
  );
  assert.deepEqual(sortedVals(await q.find(), 'n'), [1, 5]);
});

test('Parse.Query.and', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4, 5].map((n) => ({ n, even: n % 2 === 0 })));
  const q = Parse.Query.and(
    new Parse.Query(C).greaterThan('n', 1),
    new Parse.Query(C).equalTo('even', true)
  );
  assert.deepEqual(sortedVals(await q.find(), 'n'), [2, 4]);
});

test('Parse.Query.nor', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4, 5].map((n) => ({ n })));
  const q = Parse.Query.nor(
    new Parse.Query(C).lessThan('n', 2),
    new Parse.Query(C).greaterThan('n', 4)
  );
  assert.deepEqual(sortedVals(await q.find(), 'n'), [2, 3, 4]);
});

test('dot notation reaches into Object fields', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { name: 'a', meta: { size: 'L', dims: { w: 10 } } },
    { name: 'b', meta: { size: 'S', dims: { w: 3 } } },
    { name: 'c', meta: { size: 'L', dims: { w: 2 } } },
  ]);
  assert.deepEqual(sortedVals(await new Parse.Query(C).equalTo('meta.size', 'L').find(), 'name'), ['a', 'c']);
  assert.deepEqual(vals(await new Parse.Query(C).greaterThan('meta.dims.w', 5).find(), 'name'), ['a']);
});

async function seedPlaces(C) {
  // lat 0, lng 1 / 2 / 3: about 111 km, 222 km and 333 km east of (0, 0).
  return seed(C, [
    { name: 'two', loc: new Parse.GeoPoint(0, 2) },
    { name: 'one', loc: new Parse.GeoPoint(0, 1) },
    { name: 'three', loc: new Parse.GeoPoint(0, 3) },
  ]);
}

test('near sorts by distance from a point', async () => {
  const C = uniqueClass('Geo');
  await seedPlaces(C);
  const res = await new Parse.Query(C).near('loc', new Parse.GeoPoint(0, 0)).find();
  assert.deepEqual(vals(res, 'name'), ['one', 'two', 'three']);
  const fromEast = await new Parse.Query(C).near('loc', new Parse.GeoPoint(0, 10)).find();
  assert.deepEqual(vals(fromEast, 'name'), ['three', 'two', 'one']);
});

test('withinKilometers and withinMiles', async () => {
  const C = uniqueClass('Geo');
  await seedPlaces(C);
  const km = await new Parse.Query(C).withinKilometers('loc', new Parse.GeoPoint(0, 0), 250).find();
  assert.deepEqual(vals(km, 'name'), ['one', 'two']);
  const mi = await new Parse.Query(C).withinMiles('loc', new Parse.GeoPoint(0, 0), 100).find();
  assert.deepEqual(vals(mi, 'name'), ['one']);
});

test('withinRadians', async () => {
  const C = uniqueClass('Geo');
  await seedPlaces(C);
  // 1 degree is 0.01745 rad.
  const res = await new Parse.Query(C).withinRadians('loc', new Parse.GeoPoint(0, 0), 0.03).find();
  assert.deepEqual(vals(res, 'name'), ['one']);
});

test('withinGeoBox', async () => {
  const C = uniqueClass('Geo');
  await seedPlaces(C);
  const res = await new Parse.Query(C)
    .withinGeoBox('loc', new Parse.GeoPoint(-1, 1.5), new Parse.GeoPoint(1, 3.5))
    .find();
  assert.deepEqual(sortedVals(res, 'name'), ['three', 'two']);
});

test('withinPolygon', async () => {
  const C = uniqueClass('Geo');
  await seedPlaces(C);
  const poly = [
    new Parse.GeoPoint(-1, 0.5),
    new Parse.GeoPoint(1, 0.5),
    new Parse.GeoPoint(1, 2.5),
    new Parse.GeoPoint(-1, 2.5),
  ];
  const res = await new Parse.Query(C).withinPolygon('loc', poly).find();
  assert.deepEqual(sortedVals(res, 'name'), ['one', 'two']);
});

test('polygonContains', async () => {
  const C = uniqueClass('Geo');
  await seed(C, [
    { name: 'unit', area: new Parse.Polygon([[0, 0], [0, 1], [1, 1], [1, 0]]) },
    { name: 'far', area: new Parse.Polygon([[10, 10], [10, 11], [11, 11], [11, 10]]) },
  ]);
  const res = await new Parse.Query(C).polygonContains('area', new Parse.GeoPoint(0.5, 0.5)).find();
  assert.deepEqual(vals(res, 'name'), ['unit']);
});

test('ascending and descending on several keys', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { g: 'b', n: 1, name: 'b1' },
    { g: 'a', n: 1, name: 'a1' },
    { g: 'b', n: 3, name: 'b3' },
    { g: 'a', n: 2, name: 'a2' },
  ]);
  const q1 = await new Parse.Query(C).ascending('g').addDescending('n').find();
  assert.deepEqual(vals(q1, 'name'), ['a2', 'a1', 'b3', 'b1']);
  const q2 = await new Parse.Query(C).descending('g').addAscending('n').find();
  assert.deepEqual(vals(q2, 'name'), ['b1', 'b3', 'a1', 'a2']);
  const r = await rest('GET', `/classes/${C}`, { query: { order: '-n,g' } });
  assert.deepEqual(r.body.results.map((o) => o.name), ['b3', 'a2', 'a1', 'b1']);
});

test('limit defaults to 100; an explicit limit is honoured', async () => {
  const C = uniqueClass('Q');
  await seed(C, Array.from({ length: 105 }, (_, n) => ({ n })));
  const def = await rest('GET', `/classes/${C}`);
  assert.equal(def.status, 200);
  assert.equal(def.body.results.length, 100);
  const big = await rest('GET', `/classes/${C}`, { query: { limit: 1000 } });
  assert.equal(big.body.results.length, 105);
  const sdk = await new Parse.Query(C).limit(7).find();
  assert.equal(sdk.length, 7);
  const zero = await rest('GET', `/classes/${C}`, { query: { limit: 0 } });
  assert.deepEqual(zero.body, { results: [] });
});

test('skip with limit pages through ordered results', async () => {
  const C = uniqueClass('Q');
  await seed(C, [0, 1, 2, 3, 4, 5].map((n) => ({ n })));
  const page = await new Parse.Query(C).ascending('n').skip(2).limit(3).find();
  assert.deepEqual(vals(page, 'n'), [2, 3, 4]);
  const r = await rest('GET', `/classes/${C}`, { query: { order: 'n', skip: 4 } });
  assert.deepEqual(r.body.results.map((o) => o.n), [4, 5]);
});

test('select (keys) returns only the chosen fields plus objectId/createdAt/updatedAt; a dotted key selects its whole top-level field', async () => {
  const C = uniqueClass('Q');
  await seed(C, [{ name: 'a', n: 1, secret: 's', nested: { x: 1, y: 2 } }]);
  const r = await rest('GET', `/classes/${C}`, { query: { keys: 'name,nested.x' } });
  assert.equal(r.status, 200);
  const row = r.body.results[0];
  assert.deepEqual(Object.keys(row).sort(), ['createdAt', 'name', 'nested', 'objectId', 'updatedAt']);
  assert.equal(row.name, 'a');
  assert.deepEqual(row.nested, { x: 1, y: 2 });
  const [sdk] = await new Parse.Query(C).select('n').find();
  assert.equal(sdk.get('n'), 1);
  assert.equal(sdk.get('name'), undefined);
  assert.equal(sdk.get('secret'), undefined);
});

test('exclude (excludeKeys) drops the named fields', async () => {
  const C = uniqueClass('Q');
  await seed(C, [{ name: 'a', n: 1, secret: 's' }]);
  const r = await rest('GET', `/classes/${C}`, { query: { excludeKeys: 'secret,n' } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body.results[0]).sort(), ['createdAt', 'name', 'objectId', 'updatedAt']);
  const [sdk] = await new Parse.Query(C).exclude('name').find();
  assert.equal(sdk.get('name'), undefined);
  assert.equal(sdk.get('secret'), 's');
});

test('include fetches pointers, including nested paths', async () => {
  const A = uniqueClass('IncA');
  const B = uniqueClass('IncB');
  const Cc = uniqueClass('IncC');
  const c = await new Parse.Object(Cc).save({ name: 'deep' });
  const b = await new Parse.Object(B).save({ name: 'mid', c });
  await new Parse.Object(A).save({ name: 'top', b });
  const [plain] = await new Parse.Query(A).find();
  assert.equal(plain.get('b').get('name'), undefined);
  const [one] = await new Parse.Query(A).include('b').find();
  assert.equal(one.get('b').get('name'), 'mid');
  assert.equal(one.get('b').get('c').get('name'), undefined);
  const [two] = await new Parse.Query(A).include('b.c').find();
  assert.equal(two.get('b').get('name'), 'mid');
  assert.equal(two.get('b').get('c').get('name'), 'deep');
  const r = await rest('GET', `/classes/${A}`, { query: { include: 'b.c' } });
  const wire = r.body.results[0].b;
  assert.equal(wire.__type, 'Object');
  assert.equal(wire.className, B);
  assert.equal(wire.objectId, b.id);
  assert.equal(wire.c.__type, 'Object');
  assert.equal(wire.c.name, 'deep');
});

test("include('*') fetches every pointer field one level deep", async () => {
  const A = uniqueClass('IncA');
  const B = uniqueClass('IncB');
  const [b1, b2] = await seed(B, [{ name: 'x' }, { name: 'y' }]);
  await new Parse.Object(A).save({ first: b1, second: b2 });
  const [res] = await new Parse.Query(A).include('*').find();
  assert.equal(res.get('first').get('name'), 'x');
  assert.equal(res.get('second').get('name'), 'y');
});

test('count, also with constraints, and the REST count=1&limit=0 shape', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4, 5, 6, 7].map((n) => ({ n })));
  assert.equal(await new Parse.Query(C).count(), 7);
  assert.equal(await new Parse.Query(C).greaterThan('n', 4).count(), 3);
  const r = await rest('GET', `/classes/${C}`, { query: { count: 1, limit: 0, where: { n: { $lt: 3 } } } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { results: [], count: 2 });
  const withRows = await rest('GET', `/classes/${C}`, { query: { count: 1, limit: 2, order: 'n' } });
  assert.equal(withRows.body.count, 7);
  assert.deepEqual(withRows.body.results.map((o) => o.n), [1, 2]);
});

test('first returns one object, or undefined when nothing matches', async () => {
  const C = uniqueClass('Q');
  await seed(C, [3, 1, 2].map((n) => ({ n })));
  const first = await new Parse.Query(C).ascending('n').first();
  assert.equal(first.get('n'), 1);
  const none = await new Parse.Query(C).equalTo('n', 99).first();
  assert.equal(none, undefined);
});

test('each visits every matching object across batches', async () => {
  const C = uniqueClass('Q');
  await seed(C, Array.from({ length: 7 }, (_, n) => ({ n })));
  const seen = [];
  await new Parse.Query(C).greaterThan('n', 0).each((o) => { seen.push(o.get('n')); }, { batchSize: 2 });
  assert.deepEqual(seen.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
});

test('distinct (master key) returns the distinct values', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { color: 'red', n: 1 },
    { color: 'blue', n: 2 },
    { color: 'red', n: 3 },
    { color: 'green', n: 4 },
  ]);
  const all = await new Parse.Query(C).distinct('color');
  assert.deepEqual([...all].sort(), ['blue', 'green', 'red']);
  const some = await new Parse.Query(C).greaterThan('n', 1).distinct('color');
  assert.deepEqual([...some].sort(), ['blue', 'green', 'red']);
  const few = await new Parse.Query(C).lessThan('n', 3).distinct('color');
  assert.deepEqual([...few].sort(), ['blue', 'red']);
});

test('aggregate (master key): $match and $group, _id reported as objectId', async () => {
  const C = uniqueClass('Q');
  await seed(C, [
    { color: 'red', n: 1 },
    { color: 'blue', n: 2 },
    { color: 'red', n: 3 },
    { color: 'green', n: 10 },
  ]);
  const res = await new Parse.Query(C).aggregate([
    { $match: { n: { $lt: 5 } } },
    { $group: { _id: '$color', total: { $sum: '$n' } } },
  ]);
  const rows = res.map((r) => [r.objectId, r.total]).sort();
  assert.deepEqual(rows, [
    ['blue', 2],
    ['red', 4],
  ]);
});

test('aggregate and distinct over REST need the master key', async () => {
  const C = uniqueClass('Q');
  await seed(C, [{ color: 'red' }]);
  const anon = await rest('GET', `/aggregate/${C}`, { query: { distinct: 'color' } });
  assert.equal(anon.status, 403);
  assert.deepEqual(anon.body, { error: 'Permission denied' });
  const master = await rest('GET', `/aggregate/${C}`, { query: { distinct: 'color' }, master: true });
  assert.equal(master.status, 200);
  assert.deepEqual(master.body, { results: ['red'] });
});

test('REST where with several operators on one field and an unknown field', async () => {
  const C = uniqueClass('Q');
  await seed(C, [1, 2, 3, 4].map((n) => ({ n })));
  const r = await rest('GET', `/classes/${C}`, {
    query: { where: { n: { $gte: 2, $lt: 4, $ne: 3 } }, order: 'n' },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results.map((o) => o.n), [2]);
  const unknown = await rest('GET', `/classes/${C}`, { query: { where: { nothere: 5 } } });
  assert.equal(unknown.status, 200);
  assert.deepEqual(unknown.body, { results: [] });
});

test('queries on a class that was never created find nothing and count 0; get is 101', async () => {
  const C = uniqueClass('Never');
  const res = await new Parse.Query(C).equalTo('x', 1).find();
  assert.deepEqual(res, []);
  assert.equal(await new Parse.Query(C).count(), 0);
  const err = await parseError(new Parse.Query(C).get('AbCdE12345'));
  assert.equal(err.code, 101);
});
