'use strict';
// _Session: /sessions/me, /sessions, Parse.Session, revocation, installation ids, expiry.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { afterEach } = require('node:test');
const { test, useServer, rest, parseError, Parse, OBJECT_ID_RE, ISO_DATE_RE } = require('../helpers/server');

useServer();

Parse.User.enableUnsafeCurrentUser();
afterEach(async () => {
  await Parse.User.logOut().catch(() => {});
});

const TOKEN_RE = /^r:[0-9a-f]{32}$/;
const INVALID_TOKEN = { code: 209, error: 'Invalid session token' };
const SESSION_KEYS = ['createdAt', 'createdWith', 'expiresAt', 'objectId', 'sessionToken', 'updatedAt', 'user'];

function uname() {
  return `s_${crypto.randomBytes(5).toString('hex')}`;
}

async function signUp(headers = {}) {
  const username = uname();
  const password = 'pw';
  const r = await rest('POST', '/users', { body: { username, password }, headers });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.objectId, token: r.body.sessionToken, username, password };
}

async function logIn(u, headers = {}) {
  const r = await rest('POST', '/login', { body: { username: u.username, password: u.password }, headers });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.sessionToken;
}

const userPointer = (id) => ({ __type: 'Pointer', className: '_User', objectId: id });
const sessionMe = (token) => rest('GET', '/sessions/me', { sessionToken: token });

test('GET /sessions/me after sign-up: the session object and its fields', async () => {
  const u = await signUp();
  const r = await sessionMe(u.token);
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), SESSION_KEYS); // no ACL, no installationId without one
  assert.match(r.body.objectId, OBJECT_ID_RE);
  assert.match(r.body.createdAt, ISO_DATE_RE);
  assert.equal(r.body.updatedAt, r.body.createdAt);
  assert.deepEqual(r.body.user, userPointer(u.id));
  assert.equal(r.body.sessionToken, u.token);
  assert.deepEqual(r.body.createdWith, { action: 'signup', authProvider: 'password' });
  assert.equal(r.body.expiresAt.__type, 'Date');
  assert.match(r.body.expiresAt.iso, ISO_DATE_RE);
});

test('a session expires one year after it is created (default sessionLength)', async () => {
  const u = await signUp();
  const r = await sessionMe(u.token);
  const lifetime = Date.parse(r.body.expiresAt.iso) - Date.parse(r.body.createdAt);
  const year = 365 * 24 * 3600 * 1000;
  assert.ok(Math.abs(lifetime - year) < 60 * 1000, `lifetime ${lifetime} ms`);
});

test('a log-in session records createdWith {action: "login"} and the X-Parse-Installation-Id', async () => {
  const u = await signUp();
  const installationId = crypto.randomUUID();
  const token = await logIn(u, { 'X-Parse-Installation-Id': installationId });
  const r = await sessionMe(token);
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), [...SESSION_KEYS, 'installationId'].sort());
  assert.equal(r.body.installationId, installationId);
  assert.deepEqual(r.body.createdWith, { action: 'login', authProvider: 'password' });
  // sign-up records the installation id as well
  const v = await signUp({ 'X-Parse-Installation-Id': installationId });
  assert.equal((await sessionMe(v.token)).body.installationId, installationId);
});

test('/sessions/me without a token is 209 "Session token required."; unknown token 209 "Session token not found."', async () => {
  const none = await rest('GET', '/sessions/me');
  assert.equal(none.status, 400);
  assert.deepEqual(none.body, { code: 209, error: 'Session token required.' });
  const bogus = await sessionMe('r:0123456789abcdef0123456789abcdef');
  assert.equal(bogus.status, 400);
  assert.deepEqual(bogus.body, { code: 209, error: 'Session token not found.' });
});

test('GET /sessions lists only the caller\'s own sessions', async () => {
  const a = await signUp();
  const b = await signUp();
  const a2 = await logIn(a);
  await logIn(b);
  const r = await rest('GET', '/sessions', { sessionToken: a.token });
  assert.equal(r.status, 200);
  assert.equal(r.body.results.length, 2);
  for (const s of r.body.results) assert.deepEqual(s.user, userPointer(a.id));
  assert.deepEqual(r.body.results.map((s) => s.sessionToken).sort(), [a.token, a2].sort());
  const count = await rest('GET', '/sessions', { sessionToken: a.token, query: { count: 1, limit: 0 } });
  assert.deepEqual(count.body, { results: [], count: 2 });
  // even when asking for another user's sessions explicitly
  const theirs = await rest('GET', '/sessions', { sessionToken: a.token, query: { where: { user: userPointer(b.id) } } });
  assert.deepEqual(theirs.body, { results: [] });
  // /classes/_Session is the same collection with the same restriction
  const classes = await rest('GET', '/classes/_Session', { sessionToken: a.token });
  assert.equal(classes.body.results.length, 2);
});

test('GET /sessions without a session is 209 "Permission denied"; the master key sees every session', async () => {
  const u = await signUp();
  const r = await rest('GET', '/sessions');
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 209, error: 'Permission denied' });
  const master = await rest('GET', '/sessions', { master: true, query: { where: { user: userPointer(u.id) } } });
  assert.equal(master.status, 200);
  assert.equal(master.body.results.length, 1);
  assert.equal(master.body.results[0].sessionToken, u.token);
});

test('Parse.Session.current() returns the current user\'s session', async () => {
  const u = await signUp();
  const user = await Parse.User.logIn(u.username, u.password);
  assert.ok(Parse.Session.isCurrentSessionRevocable());
  const session = await Parse.Session.current();
  assert.ok(session instanceof Parse.Session);
  assert.match(session.id, OBJECT_ID_RE);
  assert.equal(session.getSessionToken(), user.getSessionToken());
  assert.equal(session.get('user').id, u.id);
  assert.deepEqual(session.get('createdWith'), { action: 'login', authProvider: 'password' });
  assert.ok(session.get('expiresAt') instanceof Date);
  // the SDK sends its own installation id, which the session records
  assert.equal(session.get('installationId'), await Parse.CoreManager.getInstallationController().currentInstallationId());
});

test('Parse.Query(Parse.Session) with a session token finds only that user\'s sessions', async () => {
  const a = await signUp();
  await logIn(a);
  await signUp();
  const sessions = await new Parse.Query(Parse.Session).find({ sessionToken: a.token });
  assert.equal(sessions.length, 2);
  for (const s of sessions) assert.equal(s.get('user').id, a.id);
});

test('deleting one\'s own session logs it out: {} then 209 for that token', async () => {
  const u = await signUp();
  const other = await logIn(u);
  const s = await sessionMe(u.token);
  const del = await rest('DELETE', `/sessions/${s.body.objectId}`, { sessionToken: u.token });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
  for (const r of [await rest('GET', '/users/me', { sessionToken: u.token }), await rest('GET', '/sessions', { sessionToken: u.token })]) {
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, INVALID_TOKEN);
  }
  // another session of the same user can delete its sibling and still works
  assert.equal((await rest('GET', '/users/me', { sessionToken: other })).status, 200);
});

test('Parse.Session destroy through the SDK revokes it', async () => {
  const u = await signUp();
  const token = await logIn(u);
  const [s] = await new Parse.Query(Parse.Session).equalTo('sessionToken', token).find({ sessionToken: token });
  assert.equal(s.getSessionToken(), token);
  await s.destroy({ sessionToken: token });
  assert.deepEqual((await rest('GET', '/users/me', { sessionToken: token })).body, INVALID_TOKEN);
  assert.equal((await rest('GET', '/users/me', { sessionToken: u.token })).status, 200);
});

test('another user\'s session cannot be read, updated or deleted (101)', async () => {
  const a = await signUp();
  const b = await signUp();
  const sb = (await sessionMe(b.token)).body;
  const get = await rest('GET', `/sessions/${sb.objectId}`, { sessionToken: a.token });
  assert.equal(get.status, 404);
  assert.deepEqual(get.body, { code: 101, error: 'Object not found.' });
  const put = await rest('PUT', `/sessions/${sb.objectId}`, { sessionToken: a.token, body: { note: 'x' } });
  assert.equal(put.status, 404);
  assert.deepEqual(put.body, { code: 101, error: 'Object not found.' });
  const del = await rest('DELETE', `/sessions/${sb.objectId}`, { sessionToken: a.token });
  assert.equal(del.status, 404);
  assert.deepEqual(del.body, { code: 101, error: 'Object not found for delete.' });
  assert.equal((await rest('GET', '/users/me', { sessionToken: b.token })).status, 200);
});

test('a session token is dead after log-out everywhere: /users/me, /sessions, /classes, /logout', async () => {
  const u = await signUp();
  const out = await rest('POST', '/logout', { sessionToken: u.token });
  assert.deepEqual(out.body, {});
  for (const [method, path] of [
    ['GET', '/users/me'],
    ['GET', '/sessions'],
    ['GET', '/classes/Anything'],
    ['POST', '/logout'],
  ]) {
    const r = await rest(method, path, { sessionToken: u.token });
    assert.equal(r.status, 400, path);
    assert.deepEqual(r.body, INVALID_TOKEN, path);
  }
  const sm = await sessionMe(u.token);
  assert.deepEqual(sm.body, { code: 209, error: 'Session token not found.' });
});

test('logging in again from the same installation replaces that installation\'s previous session', async () => {
  const u = await signUp();
  const inst = crypto.randomUUID();
  const first = await logIn(u, { 'X-Parse-Installation-Id': inst });
  const elsewhere = await logIn(u, { 'X-Parse-Installation-Id': crypto.randomUUID() });
  const second = await logIn(u, { 'X-Parse-Installation-Id': inst });
  assert.deepEqual((await rest('GET', '/users/me', { sessionToken: first })).body, INVALID_TOKEN);
  for (const token of [second, elsewhere, u.token]) {
    assert.equal((await rest('GET', '/users/me', { sessionToken: token })).status, 200);
  }
  const list = await rest('GET', '/sessions', { sessionToken: second });
  assert.deepEqual(list.body.results.map((s) => s.sessionToken).sort(), [u.token, elsewhere, second].sort());
});

test('a session whose expiresAt has passed is refused with 209 "Session token is expired."', async () => {
  const u = await signUp();
  const s = (await sessionMe(u.token)).body;
  const put = await rest('PUT', `/sessions/${s.objectId}`, {
    master: true,
    body: { expiresAt: { __type: 'Date', iso: '2020-01-01T00:00:00.000Z' } },
  });
  assert.equal(put.status, 200);
  for (const path of ['/users/me', '/classes/Anything']) {
    const r = await rest('GET', path, { sessionToken: u.token });
    assert.equal(r.status, 400, path);
    assert.deepEqual(r.body, { code: 209, error: 'Session token is expired.' }, path);
  }
});

test('a user may add custom fields to its own session, but not change its reserved fields', async () => {
  const u = await signUp();
  const s = (await sessionMe(u.token)).body;
  const field = `note_${crypto.randomBytes(3).toString('hex')}`;
  const ok = await rest('PUT', `/sessions/${s.objectId}`, { sessionToken: u.token, body: { [field]: 'hello' } });
  assert.equal(ok.status, 200);
  assert.deepEqual(Object.keys(ok.body), ['updatedAt']);
  assert.equal((await sessionMe(u.token)).body[field], 'hello');
  const cases = [
    [{ sessionToken: 'r:mine' }, 'Invalid key name: sessionToken'],
    [{ installationId: 'x' }, 'Invalid key name: installationId'],
    [{ expiresAt: { __type: 'Date', iso: '2099-01-01T00:00:00.000Z' } }, 'Invalid key name: expiresAt'],
    [{ createdWith: { action: 'x' } }, 'Invalid key name: createdWith'],
    [{ user: userPointer('abcdefghij') }, 'Invalid key name: user'],
    [{ ACL: { '*': { read: true } } }, 'Cannot set ACL on a Session.'],
  ];
  for (const [body, error] of cases) {
    const r = await rest('PUT', `/sessions/${s.objectId}`, { sessionToken: u.token, body });
    assert.equal(r.status, 400, error);
    assert.deepEqual(r.body, { code: 105, error }, error);
  }
});

test('POST /sessions creates an extra session for the caller (createdWith {action: "create"})', async () => {
  const u = await signUp();
  const field = `device_${crypto.randomBytes(3).toString('hex')}`;
  const r = await rest('POST', '/sessions', { sessionToken: u.token, body: { [field]: 'tablet' } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdWith', 'expiresAt', 'objectId', 'sessionToken', 'user', field].sort());
  assert.match(r.body.sessionToken, TOKEN_RE);
  assert.deepEqual(r.body.user, userPointer(u.id));
  assert.deepEqual(r.body.createdWith, { action: 'create' });
  assert.equal(r.body[field], 'tablet');
  assert.equal((await rest('GET', '/users/me', { sessionToken: r.body.sessionToken })).body.objectId, u.id);
  const none = await rest('POST', '/sessions', { body: {} });
  assert.equal(none.status, 400);
  assert.deepEqual(none.body, { code: 209, error: 'Session token required.' });
  const acl = await rest('POST', '/sessions', { sessionToken: u.token, body: { ACL: {} } });
  assert.equal(acl.status, 400);
  assert.deepEqual(acl.body, { code: 105, error: 'Cannot set ACL on a Session.' });
});

test('Parse.User.become with a revoked token rejects with 209', async () => {
  const u = await signUp();
  await rest('POST', '/logout', { sessionToken: u.token });
  const err = await parseError(Parse.User.become(u.token));
  assert.equal(err.code, Parse.Error.INVALID_SESSION_TOKEN);
  assert.equal(err.message, 'Invalid session token');
});
