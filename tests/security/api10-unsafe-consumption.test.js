'use strict';
// OWASP API10:2023 — Unsafe Consumption of APIs.
//
// basalt consumes what clients (and SDKs acting for them) send as Parse's typed JSON. Attacks:
// garbage Parse types (`__type` Date / Pointer / GeoPoint / Bytes / Polygon / File / unknown),
// malformed update operators and ACLs, `$` and `.` inside nested keys, prototype-pollution
// keys; bodies that are not JSON objects, not JSON at all, not UTF-8 (invalid bytes, lone
// surrogates, a BOM, trailing garbage, NaN, numbers out of range); non-UTF-8 bytes in headers;
// garbage types inside where clauses; the same garbage through /batch and the SDK's tunnelled
// POST.
//
// Must hold: every malformed value is refused with Parse's code (111 wrong type, 107 invalid
// value/JSON, 121 nested key, 123 ACL, 105 field name, 108 unknown operator), or a 400
// {"error": …} for an unparseable body, and nothing is written: class, object and schema are
// unchanged (re-read with the master key). Malformed input never yields a 5xx.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, Parse, uniqueClass } = h;

const server = h.useServer();

/** A class with typed fields and one valid object; returns {C, id, schema, object}. */
async function typedClass() {
  const C = uniqueClass('Typed');
  const id = await h.create(C, {
    d: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' },
    p: h.ptr('Target', 'abcdefghij'),
    g: { __type: 'GeoPoint', latitude: 1, longitude: 2 },
    n: 1,
    s: 'x',
    arr: [1],
  });
  const schema = (await rest('GET', `/schemas/${C}`, { master: true })).body;
  return { C, id, schema, object: await h.masterGet(C, id) };
}

async function unchanged(t) {
  assert.deepEqual((await rest('GET', `/schemas/${t.C}`, { master: true })).body, t.schema, 'schema changed');
  assert.equal(await h.masterCount(t.C), 1, 'an object was created');
  assert.deepEqual(await h.masterGet(t.C, t.id), t.object, 'the object changed');
}

const GARBAGE = [
  [{ d: { __type: 'Date', iso: 'not a date' } }, 111],
  [{ d: { __type: 'Date' } }, 111],
  [{ d: { __type: 'Date', iso: 12345 } }, 111],
  [{ d: { __type: 'Date', iso: '2020-13-45T99:99:99.000Z' } }, 111],
  [{ d: { __type: 'Date', iso: { $gt: '' } } }, 111],
  [{ newDate: { __type: 'Date', iso: 'garbage' } }, 111],
  [{ p: { __type: 'Pointer', className: 'Target' } }, 111],
  [{ p: { __type: 'Pointer', objectId: 'abc' } }, 111],
  [{ p: { __type: 'Pointer', className: 'Target', objectId: 5 } }, 111],
  [{ p: { __type: 'Pointer', className: 'Target', objectId: { $ne: null } } }, 111],
  [{ p: { __type: 'Pointer', className: 'Other', objectId: 'abc' } }, 111],
  [{ p: { __type: 'Pointer', className: 'Bad-Name', objectId: 'abc' } }, 111],
  [{ g: { __type: 'GeoPoint', latitude: 200, longitude: 0 } }, 107],
  [{ g: { __type: 'GeoPoint', latitude: 0, longitude: -181 } }, 107],
  [{ g: { __type: 'GeoPoint', latitude: 'a', longitude: 0 } }, 111],
  [{ g: { __type: 'GeoPoint' } }, 111],
  [{ newGeo: { __type: 'GeoPoint', latitude: 91, longitude: 0 } }, 107],
  [{ b: { __type: 'Bytes' } }, 111],
  [{ b: { __type: 'Bytes', base64: 5 } }, 111],
  [{ poly: { __type: 'Polygon', coordinates: [[0, 0]] } }, 107],
  [{ poly: { __type: 'Polygon', coordinates: 'x' } }, 107],
  [{ f: { __type: 'File' } }, 111],
  [{ f: { __type: 'File', name: 5 } }, 111],
  [{ u: { __type: 'Unknown' } }, 111],
  [{ u: { __type: 'Object' } }, 111],
  [{ n: 'not a number' }, 111],
  [{ s: 5 }, 111],
  [{ arr: 'not an array' }, 111],
  [{ n: { __op: 'Increment', amount: 'x' } }, 107],
  [{ n: { __op: 'Increment' } }, 107],
  [{ n: { __op: 'Frobnicate' } }, 108],
  [{ arr: { __op: 'Add', objects: 'x' } }, 107],
  [{ rel: { __op: 'AddRelation', objects: [5] } }, 107],
  [{ ACL: { '*': { read: 'yes' } } }, 123],
  [{ ACL: 'public' }, 123],
  [{ ACL: { '*': { read: true, admin: true } } }, 123],
  [{ nested: { $where: 'sleep(1000)' } }, 121],
  [{ nested: { 'a.b': 1 } }, 121],
  [{ nested: { deep: { $gt: 1 } } }, 121],
  [{ $where: '1' }, 105],
  [{ 'bad-key': 1 }, 105],
  [{ '': 1 }, 105],
];

test('garbage Parse types, operators and ACLs on create are refused with their Parse code; nothing is written', async () => {
  const t = await typedClass();
  for (const [body, code] of GARBAGE) {
    const r = await rest('POST', `/classes/${t.C}`, { body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.body.code, code, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(typeof r.body.error, 'string');
  }
  await unchanged(t);
});

test('the same garbage on update, in /batch and through the SDK\'s tunnelled POST changes nothing', async () => {
  const t = await typedClass();
  for (const [body, code] of GARBAGE) {
    const put = await rest('PUT', `/classes/${t.C}/${t.id}`, { body });
    assert.equal(put.status, 400, `update ${JSON.stringify(body)}: ${put.text}`);
    assert.equal(put.body.code, code, `update ${JSON.stringify(body)}: ${put.text}`);
  }
  const batch = await rest('POST', '/batch', {
    body: {
      requests: GARBAGE.map(([body], i) =>
        i % 2 ? { method: 'PUT', path: `/parse/classes/${t.C}/${t.id}`, body } : { method: 'POST', path: `/parse/classes/${t.C}`, body }
      ),
    },
  });
  assert.equal(batch.status, 200);
  batch.body.forEach((item, i) => {
    assert.ok(item.error, `batch item ${JSON.stringify(GARBAGE[i][0])} succeeded`);
    assert.equal(item.error.code, GARBAGE[i][1], JSON.stringify(item));
  });
  const tx = await rest('POST', '/batch', {
    body: { transaction: true, requests: [{ method: 'POST', path: `/parse/classes/${t.C}`, body: { n: 2 } }, { method: 'POST', path: `/parse/classes/${t.C}`, body: GARBAGE[0][0] }] },
  });
  assert.ok(tx.status >= 400, tx.text);
  for (const [body, code] of GARBAGE.slice(0, 12)) {
    const r = await rest('POST', `/classes/${t.C}`, {
      noAuth: true,
      body: JSON.stringify({ _ApplicationId: server.appId, _ClientVersion: 'js8.6.0', ...body }),
    });
    assert.equal(r.body.code, code, `tunnelled ${JSON.stringify(body)}: ${r.text}`);
  }
  await unchanged(t);
});

test('the SDK surfaces server-side type errors as Parse.Error and stores nothing', async () => {
  const t = await typedClass();
  const obj = new Parse.Object(t.C);
  obj.set('n', 'not a number');
  const err = await h.sdkError(obj.save());
  assert.equal(err.code, Parse.Error.INCORRECT_TYPE);
  const o2 = new Parse.Object(t.C);
  o2.set('p', Parse.Object.extend('Other').createWithoutData('abc'));
  assert.equal((await h.sdkError(o2.save())).code, Parse.Error.INCORRECT_TYPE);
  const o3 = new Parse.Object(t.C);
  o3.set('d', new Date('invalid'));
  assert.ok(await h.sdkError(o3.save()));
  await unchanged(t);
});

test('bodies that are not JSON objects, or not valid JSON / UTF-8, are refused and write nothing', async () => {
  const t = await typedClass();
  const raw = [
    ['{"a":1}garbage', 'application/json'],
    ['{"a":', 'application/json'],
    ['not json', 'application/json'],
    ['{"a":NaN}', 'application/json'],
    ['{"a":Infinity}', 'application/json'],
    ['{"a":1e999}', 'application/json'],
    ["{'a':1}", 'application/json'],
    ['{"a":"\\ud800"}', 'application/json'],
    ['{"a":"\\x41"}', 'application/json'],
    [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'application/json'],
    [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'application/json'],
    [Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]), 'application/json'],
    [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]), 'application/json'],
    [Buffer.from('{"a":1}', 'utf16le'), 'application/json'],
    ['a=1&b=2', 'application/x-www-form-urlencoded'],
    ['{"a":1}\u0000', 'text/plain'],
  ];
  for (const [body, contentType] of raw) {
    const res = await fetch(`${server.url}/classes/${t.C}`, {
      method: 'POST',
      headers: { 'X-Parse-Application-Id': server.appId, 'Content-Type': contentType },
      body,
    });
    const text = await res.text();
    assert.equal(res.status, 400, `${JSON.stringify(String(body))}: ${res.status} ${text}`);
    const parsed = JSON.parse(text);
    assert.equal(typeof parsed.error, 'string', text);
  }
  for (const body of ['[1,2,3]', '"str"', '42', 'null', 'true']) {
    const r = await rest('POST', `/classes/${t.C}`, { body, contentType: 'application/json' });
    assert.equal(r.status, 400, `${body}: ${r.text}`);
    assert.equal(r.body.code, 107, `${body}: ${r.text}`);
  }
  await unchanged(t);
});

test('prototype-pollution keys are plain (or invalid) field names and pollute nothing', async () => {
  const C = uniqueClass('Proto');
  const r = await rest('POST', `/classes/${C}`, { body: '{"__proto__":{"isAdmin":true},"a":1}', contentType: 'application/json' });
  h.expectError(r, 400, { code: 105, error: 'Invalid field name: __proto__.' });
  const c = await rest('POST', `/classes/${C}`, { body: { constructor: { prototype: { isAdmin: true } }, a: 1 } });
  assert.equal(c.status, 201, c.text);
  const other = await h.create(C, { a: 2 });
  const got = await h.masterGet(C, other);
  assert.equal(got.isAdmin, undefined);
  assert.equal(got.constructor && got.constructor.prototype && got.constructor.prototype.isAdmin, undefined);
  const u = await h.signUp();
  const put = await rest('PUT', `/users/${u.id}`, {
    sessionToken: u.token,
    body: '{"__proto__":{"emailVerified":true}}',
    contentType: 'application/json',
  });
  assert.equal(put.status, 400, put.text);
  assert.equal((await h.masterGet('_User', u.id)).emailVerified, undefined);
});

test('garbage Parse types inside where clauses are answered without error leakage and match nothing', async () => {
  const t = await typedClass();
  for (const where of [
    { d: { $gt: { __type: 'Date', iso: 'garbage' } } },
    { d: { __type: 'Date' } },
    { p: { __type: 'Pointer' } },
    { p: { __type: 'Pointer', className: 'Target', objectId: { $ne: null } } },
    { g: { $nearSphere: { __type: 'GeoPoint', latitude: 500, longitude: 0 } } },
    { g: { $within: { $box: 'x' } } },
    { g: { $geoWithin: { $polygon: [[0, 0]] } } },
    { s: { $regex: 5 } },
    { s: { $in: 'x' } },
    { arr: { $all: { a: 1 } } },
    { n: { $exists: 'maybe' } },
    { $or: 'x' },
    { $or: [] },
    { $relatedTo: { object: 'x', key: 5 } },
    { n: { $select: { query: 'x', key: 5 } } },
    { n: { $inQuery: { className: 5, where: 'x' } } },
    { s: { $text: { $search: 5 } } },
  ]) {
    const r = await rest('GET', `/classes/${t.C}`, { query: { where } });
    assert.ok(r.status === 200 || r.status === 400, `${JSON.stringify(where)}: ${r.status} ${r.text}`);
    if (r.status === 200) {
      assert.deepEqual(r.body.results, [], `${JSON.stringify(where)} matched: ${r.text}`);
    } else {
      assert.equal(typeof r.body.code, 'number', r.text);
    }
  }
});

test('non-UTF-8 bytes and control characters in Parse headers are refused cleanly', async () => {
  const u = new URL(server.url);
  for (const [name, value] of [
    ['X-Parse-Session-Token', Buffer.from([0x72, 0x3a, 0xff, 0xfe]).toString('latin1')],
    ['X-Parse-Application-Id', Buffer.from([0xff, 0xfe]).toString('latin1')],
    ['X-Parse-Master-Key', Buffer.from([0xc3, 0x28]).toString('latin1')],
    ['X-Parse-Installation-Id', Buffer.from([0xff]).toString('latin1')],
  ]) {
    const appHeader = name === 'X-Parse-Application-Id' ? '' : `X-Parse-Application-Id: ${server.appId}\r\n`;
    const req = `GET ${u.pathname}/users/me HTTP/1.1\r\nHost: ${u.host}\r\n${appHeader}${name}: ${value}\r\nConnection: close\r\n\r\n`;
    const res = await h.rawExchange(server.url, Buffer.from(req, 'latin1'), 5000);
    const status = Number((/^HTTP\/1\.1 (\d{3})/.exec(res.response) || [])[1]);
    assert.ok(status >= 400 && status < 500, `${name}: ${res.response.slice(0, 200)}`);
  }
  const health = await rest('GET', '/health', { noAuth: true });
  assert.equal(health.status, 200);
});
