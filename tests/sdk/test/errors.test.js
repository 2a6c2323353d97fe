'use strict';
// Error envelopes, authentication, query validation and _method tunnelling.
const assert = require('node:assert/strict');
const { test, useServer, rest, uniqueClass, parseError, Parse } = require('../helpers/server');

const server = useServer();

// The body fields the JS SDK adds to every request it tunnels through POST text/plain.
function sdkEnvelope(extra) {
  const env = { _ApplicationId: server.appId, _ClientVersion: 'js8.6.0', _InstallationId: 'b6f4c2a0-0000-4000-8000-000000000001' };
  if (server.javascriptKey) env._JavaScriptKey = server.javascriptKey;
  return { ...extra, ...env };
}

test('object not found is HTTP 404 {code: 101, error: "Object not found."}', async () => {
  const C = uniqueClass('Err');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const r = await rest('GET', `/classes/${C}/ZzZzZzZzZz`);
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { code: 101, error: 'Object not found.' });
  assert.match(r.headers.get('content-type'), /^application\/json/);
});

test('invalid field names are HTTP 400 code 105', async () => {
  const C = uniqueClass('Err');
  for (const key of ['$bad', 'bad-key', '_private', '1abc']) {
    const r = await rest('POST', `/classes/${C}`, { body: { [key]: 1 } });
    assert.equal(r.status, 400, key);
    assert.deepEqual(r.body, { code: 105, error: `Invalid field name: ${key}.` }, key);
  }
  const id = (await rest('POST', `/classes/${C}`, { body: { ok: 1 } })).body.objectId;
  const put = await rest('PUT', `/classes/${C}/${id}`, { body: { 'no spaces': 1 } });
  assert.equal(put.status, 400);
  assert.deepEqual(put.body, { code: 105, error: 'Invalid field name: no spaces.' });
});

test('valid field names: letters, digits and underscores after a leading letter', async () => {
  const C = uniqueClass('Err');
  const r = await rest('POST', `/classes/${C}`, { body: { a_1: 1, B2: 2, camelCase_X: 3 } });
  assert.equal(r.status, 201);
  const got = await rest('GET', `/classes/${C}/${r.body.objectId}`);
  assert.equal(got.body.a_1, 1);
  assert.equal(got.body.B2, 2);
  assert.equal(got.body.camelCase_X, 3);
});

test('invalid class names on object writes are HTTP 400 code 107', async () => {
  for (const name of ['Bad-Name', '_Nope', '9lives']) {
    const r = await rest('POST', `/classes/${name}`, { body: { a: 1 } });
    assert.equal(r.status, 400, name);
    assert.deepEqual(r.body, { code: 107, error: 'schema class name does not revalidate' }, name);
  }
  const err = await parseError(new Parse.Object('Bad-Name').save({ a: 1 }));
  assert.equal(err.code, 107);
  assert.equal(err.message, 'schema class name does not revalidate');
});

test('a malformed JSON body is HTTP 400 with only an "error" string', async () => {
  const C = uniqueClass('Err');
  for (const [body, contentType] of [
    ['{"a":', 'application/json'],
    ['not json', 'application/json'],
    ['{"_method":', 'text/plain'],
  ]) {
    const r = await rest('POST', `/classes/${C}`, { body, contentType });
    assert.equal(r.status, 400, body);
    assert.equal(typeof r.body, 'object', body);
    assert.deepEqual(Object.keys(r.body), ['error'], body);
    assert.equal(typeof r.body.error, 'string');
    assert.ok(r.body.error.length > 0);
  }
});

test('a where parameter that is not JSON is code 107', async () => {
  const C = uniqueClass('Err');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const r = await rest('GET', `/classes/${C}`, { query: { where: '{bad' } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 107, error: 'where parameter is not valid JSON' });
});

test('an unknown query operator on a field is code 107 (bad constraint)', async () => {
  const C = uniqueClass('Err');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const r = await rest('GET', `/classes/${C}`, { query: { where: { a: { $foo: 1 } } } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 107, error: 'bad constraint: $foo' });
});

test('an unknown top-level query key is code 105', async () => {
  const C = uniqueClass('Err');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const r = await rest('GET', `/classes/${C}`, { query: { where: { $foo: 1 } } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 105, error: 'Invalid key name: $foo' });
});

test('malformed operator values: $in that is not an array (107), bad $options (102)', async () => {
  const C = uniqueClass('Err');
  await rest('POST', `/classes/${C}`, { body: { a: 1, s: 'x' } });
  const inBad = await rest('GET', `/classes/${C}`, { query: { where: { a: { $in: 1 } } } });
  assert.equal(inBad.status, 400);
  assert.deepEqual(inBad.body, { code: 107, error: 'bad $in value' });
  const opts = await rest('GET', `/classes/${C}`, { query: { where: { s: { $regex: 'x', $options: 'q' } } } });
  assert.equal(opts.status, 400);
  assert.deepEqual(opts.body, { code: 102, error: 'Bad $options value for query: q' });
});

test('an unknown query-string parameter is code 102', async () => {
  const C = uniqueClass('Err');
  await rest('POST', `/classes/${C}`, { body: { a: 1 } });
  const r = await rest('GET', `/classes/${C}?foo=1`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 102, error: 'Invalid parameter for query: foo' });
});

test('a wrong or missing application id is HTTP 403 {"error":"unauthorized"}', async () => {
  const C = uniqueClass('Err');
  const wrong = await rest('GET', `/classes/${C}`, { headers: { 'X-Parse-Application-Id': 'not-the-app' } });
  assert.equal(wrong.status, 403);
  assert.deepEqual(wrong.body, { error: 'unauthorized' });
  const none = await rest('GET', `/classes/${C}`, { noAuth: true });
  assert.equal(none.status, 403);
  assert.deepEqual(none.body, { error: 'unauthorized' });
  const post = await rest('POST', `/classes/${C}`, { body: { a: 1 }, headers: { 'X-Parse-Application-Id': 'not-the-app' } });
  assert.equal(post.status, 403);
  assert.deepEqual(post.body, { error: 'unauthorized' });
});

test('the SDK surfaces a wrong application id as an error with message "unauthorized"', async () => {
  const C = uniqueClass('Err');
  Parse.initialize('not-the-app', server.javascriptKey);
  Parse.serverURL = server.url;
  try {
    const err = await parseError(new Parse.Query(C).find());
    assert.equal(err.message, 'unauthorized');
  } finally {
    Parse.initialize(server.appId, server.javascriptKey);
    Parse.serverURL = server.url;
    Parse.masterKey = server.masterKey;
  }
  assert.deepEqual(await new Parse.Query(C).find(), []);
});

test('a wrong master key is not an error on public routes: it simply is not master', async () => {
  const C = uniqueClass('Err');
  const created = await rest('POST', `/classes/${C}`, {
    body: { a: 1, ACL: { 'role:admin': { read: true } } },
  });
  const r = await rest('GET', `/classes/${C}/${created.body.objectId}`, {
    headers: { 'X-Parse-Master-Key': 'not-the-key' },
  });
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { code: 101, error: 'Object not found.' });
});

test('/serverInfo needs the master key', async () => {
  const anon = await rest('GET', '/serverInfo');
  assert.equal(anon.status, 403);
  assert.deepEqual(anon.body, { error: 'Permission denied' });
  const master = await rest('GET', '/serverInfo', { master: true });
  assert.equal(master.status, 200);
  assert.equal(typeof master.body.parseServerVersion, 'string');
  assert.equal(typeof master.body.features, 'object');
  assert.equal(typeof master.body.features.schemas, 'object');
});

test('/health answers {"status":"ok"} without any key', async () => {
  const r = await rest('GET', '/health', { noAuth: true });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { status: 'ok' });
});

test('_method GET tunnelled in a text/plain POST runs a query', async () => {
  const C = uniqueClass('Tun');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  await rest('POST', `/classes/${C}`, { body: { n: 2 } });
  await rest('POST', `/classes/${C}`, { body: { n: 3 } });
  const r = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    contentType: 'text/plain',
    body: JSON.stringify(sdkEnvelope({ _method: 'GET', where: { n: { $gte: 2 } }, order: '-n', limit: 5 })),
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results.map((o) => o.n), [3, 2]);
  const counted = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    body: JSON.stringify(sdkEnvelope({ _method: 'GET', count: 1, limit: 0 })),
  });
  assert.deepEqual(counted.body, { results: [], count: 3 });
});

test('_method PUT and DELETE tunnelled in a text/plain POST update and delete', async () => {
  const C = uniqueClass('Tun');
  const id = (await rest('POST', `/classes/${C}`, { body: { n: 1 } })).body.objectId;
  const put = await rest('POST', `/classes/${C}/${id}`, {
    noAuth: true,
    body: JSON.stringify(sdkEnvelope({ _method: 'PUT', n: 5, extra: 'x' })),
  });
  assert.equal(put.status, 200);
  assert.deepEqual(Object.keys(put.body), ['updatedAt']);
  const got = await rest('POST', `/classes/${C}/${id}`, {
    noAuth: true,
    body: JSON.stringify(sdkEnvelope({ _method: 'GET' })),
  });
  assert.equal(got.status, 200);
  assert.equal(got.body.n, 5);
  assert.equal(got.body.extra, 'x');
  assert.equal('_ClientVersion' in got.body, false);
  assert.equal('_InstallationId' in got.body, false);
  const del = await rest('POST', `/classes/${C}/${id}`, {
    noAuth: true,
    body: JSON.stringify(sdkEnvelope({ _method: 'DELETE' })),
  });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  assert.equal((await rest('GET', `/classes/${C}/${id}`)).status, 404);
});

test('a text/plain POST without _method creates an object from the remaining fields', async () => {
  const C = uniqueClass('Tun');
  const r = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    body: JSON.stringify(sdkEnvelope({ n: 7 })),
  });
  assert.equal(r.status, 201);
  const got = await rest('GET', `/classes/${C}/${r.body.objectId}`);
  assert.deepEqual(Object.keys(got.body).sort(), ['createdAt', 'n', 'objectId', 'updatedAt']);
  assert.equal(got.body.n, 7);
});

test('_ApplicationId and _MasterKey in a tunnelled body authenticate like the headers', async () => {
  const C = uniqueClass('Tun');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  const wrongApp = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'GET', _ApplicationId: 'not-the-app' }),
  });
  assert.equal(wrongApp.status, 403);
  assert.deepEqual(wrongApp.body, { error: 'unauthorized' });
  const noMaster = await rest('POST', `/schemas/${C}`, {
    noAuth: true,
    body: JSON.stringify(sdkEnvelope({ _method: 'GET' })),
  });
  assert.equal(noMaster.status, 403);
  assert.deepEqual(noMaster.body, { error: 'Permission denied' });
  const master = await rest('POST', `/schemas/${C}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'GET', _ApplicationId: server.appId, _MasterKey: server.masterKey }),
  });
  assert.equal(master.status, 200);
  assert.equal(master.body.className, C);
});

test('_method tunnelling also works with an application/json body and header auth', async () => {
  const C = uniqueClass('Tun');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  const r = await rest('POST', `/classes/${C}`, { body: { _method: 'GET', where: { n: 1 } } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results.map((o) => o.n), [1]);
});

test('SDK errors are Parse.Error instances carrying the server code and message', async () => {
  const C = uniqueClass('Err');
  await new Parse.Object(C).save({ n: 1 });
  const err = await parseError(new Parse.Object(C).save({ n: 'x' }));
  assert.ok(err instanceof Parse.Error);
  assert.equal(err.code, 111);
  assert.equal(err.message, `schema mismatch for ${C}.n; expected Number but got String`);
  const q = new Parse.Query(C);
  q._addCondition('n', '$in', 1);
  const qErr = await parseError(q.find());
  assert.ok(qErr instanceof Parse.Error);
  assert.equal(qErr.code, 107);
  assert.equal(qErr.message, 'bad $in value');
});
