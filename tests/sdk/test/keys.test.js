'use strict';
// Client keys: with a javascriptKey / restAPIKey configured, every request needs a matching
// client key or the master key. This file asks the server under test for both keys; against an
// external server they come from PARSE_JS_KEY / PARSE_REST_API_KEY, and the tests that need a key
// the external server does not have are skipped.
const assert = require('node:assert/strict');
const { test, useServer, rest, uniqueClass, Parse } = require('../helpers/server');

const server = useServer({ javascriptKey: 'sdk-js-key', restApiKey: 'sdk-rest-key' });

function needs(t, ...keys) {
  const missing = keys.filter((k) => server.missingKeys.includes(k));
  if (missing.length) {
    t.skip(`external server has no ${missing.join(', ')} configured`);
    return false;
  }
  return true;
}

const appHeader = () => ({ 'X-Parse-Application-Id': server.appId });

test('with client keys configured, a request without any key is 403 unauthorized', async (t) => {
  if (!needs(t, 'javascriptKey')) return;
  const C = uniqueClass('Key');
  const r = await rest('GET', `/classes/${C}`, { noAuth: true, headers: appHeader() });
  assert.equal(r.status, 403);
  assert.deepEqual(r.body, { error: 'unauthorized' });
  const post = await rest('POST', `/classes/${C}`, { noAuth: true, headers: appHeader(), body: { a: 1 } });
  assert.equal(post.status, 403);
  assert.deepEqual(post.body, { error: 'unauthorized' });
});

test('the right X-Parse-Javascript-Key is accepted; a wrong one is 403', async (t) => {
  if (!needs(t, 'javascriptKey')) return;
  const C = uniqueClass('Key');
  const ok = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    headers: { ...appHeader(), 'X-Parse-Javascript-Key': server.javascriptKey },
    body: { a: 1 },
  });
  assert.equal(ok.status, 201);
  const bad = await rest('GET', `/classes/${C}`, {
    noAuth: true,
    headers: { ...appHeader(), 'X-Parse-Javascript-Key': 'wrong-key' },
  });
  assert.equal(bad.status, 403);
  assert.deepEqual(bad.body, { error: 'unauthorized' });
});

test('the right X-Parse-REST-API-Key is accepted', async (t) => {
  if (!needs(t, 'restApiKey')) return;
  const C = uniqueClass('Key');
  const ok = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    headers: { ...appHeader(), 'X-Parse-REST-API-Key': server.restApiKey },
    body: { a: 1 },
  });
  assert.equal(ok.status, 201);
  const list = await rest('GET', `/classes/${C}`, {
    noAuth: true,
    headers: { ...appHeader(), 'X-Parse-REST-API-Key': server.restApiKey },
  });
  assert.equal(list.status, 200);
  assert.equal(list.body.results.length, 1);
});

test('a wrong X-Parse-REST-API-Key is 403', async (t) => {
  if (!needs(t, 'javascriptKey')) return;
  const r = await rest('GET', `/classes/${uniqueClass('Key')}`, {
    noAuth: true,
    headers: { ...appHeader(), 'X-Parse-REST-API-Key': 'wrong-key' },
  });
  assert.equal(r.status, 403);
  assert.deepEqual(r.body, { error: 'unauthorized' });
});

test('the master key alone is enough, without a client key', async (t) => {
  if (!needs(t, 'javascriptKey')) return;
  const C = uniqueClass('Key');
  const r = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    headers: { ...appHeader(), 'X-Parse-Master-Key': server.masterKey },
    body: { a: 1 },
  });
  assert.equal(r.status, 201);
});

test('_JavaScriptKey in a tunnelled text/plain body authenticates', async (t) => {
  if (!needs(t, 'javascriptKey')) return;
  const C = uniqueClass('Key');
  await rest('POST', `/classes/${C}`, { body: { n: 1 } });
  const ok = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'GET', _ApplicationId: server.appId, _JavaScriptKey: server.javascriptKey }),
  });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.results.map((o) => o.n), [1]);
  const bad = await rest('POST', `/classes/${C}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'GET', _ApplicationId: server.appId, _JavaScriptKey: 'wrong-key' }),
  });
  assert.equal(bad.status, 403);
  assert.deepEqual(bad.body, { error: 'unauthorized' });
});

test('the SDK initialised with the javascript key works', async (t) => {
  if (!needs(t, 'javascriptKey')) return;
  const C = uniqueClass('Key');
  const obj = await new Parse.Object(C).save({ n: 2 });
  const got = await new Parse.Query(C).get(obj.id);
  assert.equal(got.get('n'), 2);
});

test('/health needs no key even when client keys are configured', async () => {
  const r = await rest('GET', '/health', { noAuth: true });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { status: 'ok' });
});
