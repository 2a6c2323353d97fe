'use strict';
// _User: sign-up, log-in, /users/me, become, log-out, updates, password changes, /verifyPassword,
// anonymous users, hidden fields (password, authData, email) and the e-mail routes without a
// mail adapter.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { afterEach } = require('node:test');
const { test, useServer, rest, parseError, Parse, OBJECT_ID_RE, ISO_DATE_RE } = require('../helpers/server');

const server = useServer();

// Parse.User.current() is off by default under Node.js; these tests exercise it. Each test logs
// the SDK's current user out afterwards so no session token leaks into the next test.
Parse.User.enableUnsafeCurrentUser();
afterEach(async () => {
  await Parse.User.logOut().catch(() => {});
});

const TOKEN_RE = /^r:[0-9a-f]{32}$/;
const INVALID_TOKEN = { code: 209, error: 'Invalid session token' };

/** A fresh, unique username (lower case, so its upper-case form differs). */
function uname(prefix = 'u') {
  return `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
}

/** Signs a user up over REST; returns {id, token, username, password, email, createdAt}. */
async function signUp(extra = {}) {
  const username = uname();
  const password = `pw-${crypto.randomBytes(4).toString('hex')}`;
  const email = `${username}@example.com`;
  const r = await rest('POST', '/users', { body: { username, password, email, ...extra } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.objectId, token: r.body.sessionToken, username, password, email, createdAt: r.body.createdAt };
}

const me = (token) => rest('GET', '/users/me', { sessionToken: token });

// ---------------------------------------------------------------------------------------------
// Sign-up

test('REST sign-up answers 201 with exactly objectId, createdAt and sessionToken, and a Location header', async () => {
  const username = uname();
  const r = await rest('POST', '/users', { body: { username, password: 'secret', email: `${username}@example.com` } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'objectId', 'sessionToken']);
  assert.match(r.body.objectId, OBJECT_ID_RE);
  assert.match(r.body.createdAt, ISO_DATE_RE);
  assert.match(r.body.sessionToken, TOKEN_RE);
  assert.equal(r.headers.get('location'), `${server.url}/users/${r.body.objectId}`);
});

test('a new user gets the ACL {ownId: read+write} and no public access', async () => {
  const u = await signUp({ nick: 'n' });
  const got = await rest('GET', `/users/${u.id}`, { master: true });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, {
    objectId: u.id,
    createdAt: u.createdAt,
    updatedAt: u.createdAt,
    username: u.username,
    email: u.email,
    nick: 'n',
    ACL: { [u.id]: { read: true, write: true } },
  });
  const anon = await rest('GET', `/users/${u.id}`);
  assert.equal(anon.status, 404);
  assert.deepEqual(anon.body, { code: 101, error: 'Object not found.' });
});

test('a sign-up ACL is kept and the new user is always given read+write on itself', async () => {
  const u = await signUp({ ACL: { '*': { read: true } } });
  const got = await rest('GET', `/users/${u.id}`, { master: true });
  assert.deepEqual(got.body.ACL, { '*': { read: true }, [u.id]: { read: true, write: true } });
});

test('Parse.User.signUp returns a saved user holding a session token and no password', async () => {
  const username = uname();
  const user = await Parse.User.signUp(username, 'secret', { email: `${username}@example.com`, age: 30 });
  assert.match(user.id, OBJECT_ID_RE);
  assert.ok(user.createdAt instanceof Date);
  assert.match(user.getSessionToken(), TOKEN_RE);
  assert.equal(user.get('password'), undefined);
  assert.equal(user.getUsername(), username);
  assert.equal(user.get('age'), 30);
  assert.equal(Parse.User.current().id, user.id);
  const r = await me(user.getSessionToken());
  assert.equal(r.status, 200);
  assert.equal(r.body.objectId, user.id);
});

test('user.signUp() on a new Parse.User works the same', async () => {
  const username = uname();
  const user = new Parse.User();
  user.set('username', username);
  user.set('password', 'secret');
  user.set('color', 'red');
  await user.signUp();
  assert.match(user.getSessionToken(), TOKEN_RE);
  const got = await rest('GET', `/users/${user.id}`, { master: true });
  assert.equal(got.body.username, username);
  assert.equal(got.body.color, 'red');
});

test('POST /classes/_User signs a user up too (201 with a session token)', async () => {
  const username = uname();
  const r = await rest('POST', '/classes/_User', { body: { username, password: 'secret' } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'objectId', 'sessionToken']);
  assert.equal((await me(r.body.sessionToken)).body.username, username);
});

test('sign-up without a username is 400 code 200 "bad or missing username"', async () => {
  for (const body of [{ password: 'pw' }, { username: '', password: 'pw' }]) {
    const r = await rest('POST', '/users', { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.deepEqual(r.body, { code: 200, error: 'bad or missing username' });
  }
});

test('sign-up without a password is 400 code 201 "password is required"', async () => {
  for (const body of [{ username: uname() }, { username: uname(), password: '' }]) {
    const r = await rest('POST', '/users', { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.deepEqual(r.body, { code: 201, error: 'password is required' });
  }
});

test('a taken username is code 202, compared case-insensitively', async () => {
  const u = await signUp();
  for (const username of [u.username, u.username.toUpperCase()]) {
    const r = await rest('POST', '/users', { body: { username, password: 'pw' } });
    assert.equal(r.status, 400, username);
    assert.deepEqual(r.body, { code: 202, error: 'Account already exists for this username.' });
  }
  const err = await parseError(Parse.User.signUp(u.username, 'pw'));
  assert.equal(err.code, Parse.Error.USERNAME_TAKEN);
  assert.equal(err.message, 'Account already exists for this username.');
});

test('a taken email is code 203, compared case-insensitively', async () => {
  const u = await signUp();
  for (const email of [u.email, u.email.toUpperCase()]) {
    const r = await rest('POST', '/users', { body: { username: uname(), password: 'pw', email } });
    assert.equal(r.status, 400, email);
    assert.deepEqual(r.body, { code: 203, error: 'Account already exists for this email address.' });
  }
});

test('an email not matching /^.+@.+$/ is code 125 "Email address format is invalid."', async () => {
  for (const email of ['nope', '@', 'x@', '@example.com']) {
    const r = await rest('POST', '/users', { body: { username: uname(), password: 'pw', email } });
    assert.equal(r.status, 400, email);
    assert.deepEqual(r.body, { code: 125, error: 'Email address format is invalid.' });
  }
  // the check is only that loose
  const loose = await rest('POST', '/users', { body: { username: uname(), password: 'pw', email: `${uname()}@b` } });
  assert.equal(loose.status, 201);
});

test('emailVerified cannot be set by a client (119), only with the master key', async () => {
  const r = await rest('POST', '/users', { body: { username: uname(), password: 'pw', emailVerified: true } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 119, error: 'Permission denied' });
  const u = await signUp();
  const put = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { emailVerified: true } });
  assert.equal(put.status, 400);
  assert.deepEqual(put.body, { code: 119, error: 'Permission denied' });
  const master = await rest('PUT', `/users/${u.id}`, { master: true, body: { emailVerified: true } });
  assert.equal(master.status, 200);
  assert.equal((await me(u.token)).body.emailVerified, true);
});

test('a sessionToken in the sign-up body is not a session: the server issues its own', async () => {
  const forged = `r:${crypto.randomBytes(16).toString('hex')}`;
  const r = await rest('POST', '/users', { body: { username: uname(), password: 'pw', sessionToken: forged } });
  assert.equal(r.status, 201);
  assert.notEqual(r.body.sessionToken, forged);
  assert.equal((await me(r.body.sessionToken)).status, 200);
  const bad = await me(forged);
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, INVALID_TOKEN);
});

test('password and _hashed_password are never returned, and _hashed_password cannot be written', async () => {
  const u = await signUp();
  const responses = [
    await rest('POST', '/login', { body: { username: u.username, password: u.password } }),
    await me(u.token),
    await rest('GET', `/users/${u.id}`, { sessionToken: u.token }),
    await rest('GET', `/users/${u.id}`, { master: true }),
    await rest('GET', '/users', { master: true, query: { where: { username: u.username } } }),
    await rest('POST', '/verifyPassword', { body: { username: u.username, password: u.password } }),
  ];
  for (const r of responses) {
    assert.equal(r.status, 200);
    assert.ok(!/password/i.test(r.text), r.text);
  }
  const put = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { _hashed_password: 'x' } });
  assert.equal(put.status, 400);
  assert.deepEqual(put.body, { code: 105, error: 'Invalid field name: _hashed_password.' });
});

// ---------------------------------------------------------------------------------------------
// Log-in

test('POST /login returns the user with a new session token', async () => {
  const u = await signUp({ score: 7 });
  const r = await rest('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.equal(r.status, 200);
  assert.match(r.body.sessionToken, TOKEN_RE);
  assert.notEqual(r.body.sessionToken, u.token);
  const { sessionToken, ...fields } = r.body;
  assert.deepEqual(fields, {
    objectId: u.id,
    createdAt: u.createdAt,
    updatedAt: u.createdAt,
    username: u.username,
    email: u.email,
    score: 7,
    ACL: { [u.id]: { read: true, write: true } },
  });
  assert.equal((await me(sessionToken)).body.objectId, u.id);
});

test('GET /login with query parameters logs in too', async () => {
  const u = await signUp();
  const r = await rest('GET', '/login', { query: { username: u.username, password: u.password } });
  assert.equal(r.status, 200);
  assert.equal(r.body.objectId, u.id);
  assert.match(r.body.sessionToken, TOKEN_RE);
});

test('Parse.User.logIn (POST and GET) returns the user and makes it current', async () => {
  const u = await signUp();
  const user = await Parse.User.logIn(u.username, u.password);
  assert.equal(user.id, u.id);
  assert.match(user.getSessionToken(), TOKEN_RE);
  assert.equal(user.get('password'), undefined);
  assert.equal(Parse.User.current().id, u.id);
  const viaGet = await Parse.User.logIn(u.username, u.password, { usePost: false });
  assert.equal(viaGet.id, u.id);
});

test('wrong credentials are HTTP 404 code 101 "Invalid username/password."', async () => {
  const u = await signUp();
  const cases = [
    { username: u.username, password: 'wrong' },
    { username: uname('nobody'), password: 'whatever' },
    { username: u.username.toUpperCase(), password: u.password }, // log-in is case-sensitive
  ];
  for (const body of cases) {
    const r = await rest('POST', '/login', { body });
    assert.equal(r.status, 404, JSON.stringify(body));
    assert.deepEqual(r.body, { code: 101, error: 'Invalid username/password.' });
  }
  const err = await parseError(Parse.User.logIn(u.username, 'wrong'));
  assert.equal(err.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(err.message, 'Invalid username/password.');
});

test('log-in without username or password: code 200 "username/email is required." / 201 "password is required."', async () => {
  const noUser = await rest('POST', '/login', { body: { password: 'x' } });
  assert.equal(noUser.status, 400);
  assert.deepEqual(noUser.body, { code: 200, error: 'username/email is required.' });
  const noPass = await rest('POST', '/login', { body: { username: uname() } });
  assert.equal(noPass.status, 400);
  assert.deepEqual(noPass.body, { code: 201, error: 'password is required.' });
});

test('log-in accepts the email, as an email field or in the username field (exact case)', async () => {
  const u = await signUp();
  const byEmail = await rest('POST', '/login', { body: { email: u.email, password: u.password } });
  assert.equal(byEmail.status, 200);
  assert.equal(byEmail.body.objectId, u.id);
  const inUsername = await rest('POST', '/login', { body: { username: u.email, password: u.password } });
  assert.equal(inUsername.status, 200);
  assert.equal(inUsername.body.objectId, u.id);
  const viaSdk = await Parse.User.logIn(u.email, u.password);
  assert.equal(viaSdk.id, u.id);
  const upper = await rest('POST', '/login', { body: { email: u.email.toUpperCase(), password: u.password } });
  assert.equal(upper.status, 404);
  assert.deepEqual(upper.body, { code: 101, error: 'Invalid username/password.' });
});

test('log-in ignores a dead session token header', async () => {
  const u = await signUp();
  const r = await rest('POST', '/login', {
    sessionToken: 'r:00000000000000000000000000000000',
    body: { username: u.username, password: u.password },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.objectId, u.id);
});

// ---------------------------------------------------------------------------------------------
// /users/me, become, current, log-out

test('GET /users/me returns the caller with its session token', async () => {
  const u = await signUp({ level: 3 });
  const r = await me(u.token);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    objectId: u.id,
    createdAt: u.createdAt,
    updatedAt: u.createdAt,
    username: u.username,
    email: u.email,
    level: 3,
    ACL: { [u.id]: { read: true, write: true } },
    sessionToken: u.token,
  });
});

test('GET /users/me without a token is 209 "Permission denied"; with an unknown token 209 "Invalid session token"', async () => {
  const none = await rest('GET', '/users/me');
  assert.equal(none.status, 400);
  assert.deepEqual(none.body, { code: 209, error: 'Permission denied' });
  const bogus = await me('r:0123456789abcdef0123456789abcdef');
  assert.equal(bogus.status, 400);
  assert.deepEqual(bogus.body, INVALID_TOKEN);
});

test('an unknown session token fails every request with 209, not only /users/me', async () => {
  const r = await rest('GET', '/classes/Whatever', { sessionToken: 'r:nope' });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, INVALID_TOKEN);
});

test('GET /users/:id of oneself includes the caller session token', async () => {
  const u = await signUp();
  const r = await rest('GET', `/users/${u.id}`, { sessionToken: u.token });
  assert.equal(r.status, 200);
  assert.equal(r.body.sessionToken, u.token);
  const master = await rest('GET', `/users/${u.id}`, { master: true });
  assert.equal(master.body.sessionToken, undefined);
});

test('Parse.User.become(token) loads the user; an unknown token rejects with 209', async () => {
  const u = await signUp({ nick: 'zed' });
  const user = await Parse.User.become(u.token);
  assert.equal(user.id, u.id);
  assert.equal(user.get('nick'), 'zed');
  assert.equal(user.getSessionToken(), u.token);
  assert.equal(Parse.User.current().id, u.id);
  const err = await parseError(Parse.User.become('r:0123456789abcdef0123456789abcdef'));
  assert.equal(err.code, Parse.Error.INVALID_SESSION_TOKEN);
  assert.equal(err.message, 'Invalid session token');
});

test('Parse.User.logOut clears the current user and revokes the session', async () => {
  const u = await signUp();
  const user = await Parse.User.logIn(u.username, u.password);
  const token = user.getSessionToken();
  assert.equal(Parse.User.current().id, u.id);
  await Parse.User.logOut();
  assert.equal(Parse.User.current(), null);
  const r = await me(token);
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, INVALID_TOKEN);
  // other sessions of the same user are untouched
  assert.equal((await me(u.token)).status, 200);
});

test('POST /logout answers {} and the token is dead afterwards; without a token it is a no-op {}', async () => {
  const u = await signUp();
  const out = await rest('POST', '/logout', { sessionToken: u.token });
  assert.equal(out.status, 200);
  assert.deepEqual(out.body, {});
  const again = await rest('POST', '/logout', { sessionToken: u.token });
  assert.equal(again.status, 400);
  assert.deepEqual(again.body, INVALID_TOKEN);
  const none = await rest('POST', '/logout');
  assert.equal(none.status, 200);
  assert.deepEqual(none.body, {});
});

// ---------------------------------------------------------------------------------------------
// Updates and deletes

test('a user updates its own username, email and custom fields', async () => {
  const u = await signUp({ a: 1 });
  const username = uname();
  const r = await rest('PUT', `/users/${u.id}`, {
    sessionToken: u.token,
    body: { username, email: `${username}@example.org`, a: 2, b: 'new' },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
  const got = await me(u.token);
  assert.equal(got.body.username, username);
  assert.equal(got.body.email, `${username}@example.org`);
  assert.equal(got.body.a, 2);
  assert.equal(got.body.b, 'new');
  // the old username no longer logs in; the new one does
  assert.equal((await rest('POST', '/login', { body: { username: u.username, password: u.password } })).status, 404);
  assert.equal((await rest('POST', '/login', { body: { username, password: u.password } })).status, 200);
});

test('Parse.User save of the current user updates it', async () => {
  const u = await signUp();
  const user = await Parse.User.logIn(u.username, u.password);
  user.set('mood', 'happy');
  await user.save();
  assert.equal((await me(u.token)).body.mood, 'happy');
});

test('updates enforce uniqueness and email format: 202, 203, 125', async () => {
  const a = await signUp();
  const b = await signUp();
  const cases = [
    [{ username: b.username }, { code: 202, error: 'Account already exists for this username.' }],
    [{ username: b.username.toUpperCase() }, { code: 202, error: 'Account already exists for this username.' }],
    [{ email: b.email }, { code: 203, error: 'Account already exists for this email address.' }],
    [{ email: 'not-an-email' }, { code: 125, error: 'Email address format is invalid.' }],
  ];
  for (const [body, expected] of cases) {
    const r = await rest('PUT', `/users/${a.id}`, { sessionToken: a.token, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.deepEqual(r.body, expected);
  }
});

test('a user cannot lock itself out: an ACL update always keeps read+write for the user', async () => {
  const u = await signUp();
  const r = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { ACL: { '*': { read: true } } } });
  assert.equal(r.status, 200);
  const got = await rest('GET', `/users/${u.id}`, { master: true });
  assert.deepEqual(got.body.ACL, { '*': { read: true }, [u.id]: { read: true, write: true } });
  await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { ACL: {} } });
  const again = await rest('GET', `/users/${u.id}`, { master: true });
  assert.deepEqual(again.body.ACL, { [u.id]: { read: true, write: true } });
});

test('updating another user is 206 "Permission denied", with or without a session', async () => {
  const a = await signUp();
  const b = await signUp();
  for (const opts of [{ sessionToken: a.token }, {}]) {
    const r = await rest('PUT', `/users/${b.id}`, { ...opts, body: { hacked: true } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { code: 206, error: 'Permission denied' });
  }
  const other = Parse.User.createWithoutData(b.id);
  other.set('hacked', true);
  const err = await parseError(other.save(null, { sessionToken: a.token }));
  assert.equal(err.code, Parse.Error.SESSION_MISSING);
  assert.equal((await rest('GET', `/users/${b.id}`, { master: true })).body.hacked, undefined);
});

test('deleting another user is 206: "Permission denied" with a session, "Insufficient auth to delete user" without', async () => {
  const a = await signUp();
  const b = await signUp();
  const withSession = await rest('DELETE', `/users/${b.id}`, { sessionToken: a.token });
  assert.equal(withSession.status, 400);
  assert.deepEqual(withSession.body, { code: 206, error: 'Permission denied' });
  const anonymous = await rest('DELETE', `/users/${b.id}`);
  assert.equal(anonymous.status, 400);
  assert.deepEqual(anonymous.body, { code: 206, error: 'Insufficient auth to delete user' });
  assert.equal((await rest('GET', `/users/${b.id}`, { master: true })).status, 200);
});

test('a user deletes itself: {} and the account is gone', async () => {
  const u = await signUp();
  const r = await rest('DELETE', `/users/${u.id}`, { sessionToken: u.token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {});
  const got = await rest('GET', `/users/${u.id}`, { master: true });
  assert.equal(got.status, 404);
  assert.deepEqual(got.body, { code: 101, error: 'Object not found.' });
  const login = await rest('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.equal(login.status, 404);
  assert.deepEqual(login.body, { code: 101, error: 'Invalid username/password.' });
  const after = await me(u.token);
  assert.equal(after.status, 400);
  assert.deepEqual(after.body, { code: 209, error: 'Permission denied' });
});

test('the master key updates and deletes any user', async () => {
  const u = await signUp();
  const put = await rest('PUT', `/users/${u.id}`, { master: true, body: { tag: 'm' } });
  assert.equal(put.status, 200);
  assert.equal((await me(u.token)).body.tag, 'm');
  const del = await rest('DELETE', `/users/${u.id}`, { master: true });
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, {});
});

// ---------------------------------------------------------------------------------------------
// Passwords

test('changing one\'s password revokes every session of the user and returns a new token', async () => {
  const u = await signUp();
  const other = await rest('POST', '/login', { body: { username: u.username, password: u.password } });
  const r = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { password: 'changed-pw' } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['sessionToken', 'updatedAt']);
  assert.match(r.body.sessionToken, TOKEN_RE);
  // the token used for the change is revoked too, as is every other session
  for (const token of [u.token, other.body.sessionToken]) {
    const dead = await me(token);
    assert.equal(dead.status, 400);
    assert.deepEqual(dead.body, INVALID_TOKEN);
  }
  assert.equal((await me(r.body.sessionToken)).body.objectId, u.id);
  const sessions = await rest('GET', '/sessions', { sessionToken: r.body.sessionToken });
  assert.deepEqual(sessions.body.results.map((s) => s.sessionToken), [r.body.sessionToken]);
  const oldPw = await rest('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.deepEqual(oldPw.body, { code: 101, error: 'Invalid username/password.' });
  const newPw = await rest('POST', '/login', { body: { username: u.username, password: 'changed-pw' } });
  assert.equal(newPw.status, 200);
});

test('Parse.User password change through the SDK keeps the current user logged in with the new token', async () => {
  const u = await signUp();
  const user = await Parse.User.logIn(u.username, u.password);
  const before = user.getSessionToken();
  user.setPassword('sdk-new-pw');
  await user.save();
  const after = user.getSessionToken();
  assert.match(after, TOKEN_RE);
  assert.notEqual(after, before);
  assert.equal(Parse.User.current().getSessionToken(), after);
  assert.deepEqual((await me(before)).body, INVALID_TOKEN);
  assert.equal((await me(after)).body.objectId, u.id);
  const again = await Parse.User.logIn(u.username, 'sdk-new-pw');
  assert.equal(again.id, u.id);
});

test('a password set with the master key revokes every session and returns no token', async () => {
  const u = await signUp();
  const r = await rest('PUT', `/users/${u.id}`, { master: true, body: { password: 'by-master' } });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body), ['updatedAt']);
  assert.deepEqual((await me(u.token)).body, INVALID_TOKEN);
  assert.equal((await rest('POST', '/login', { body: { username: u.username, password: 'by-master' } })).status, 200);
});

test('POST and GET /verifyPassword return the user without a session token', async () => {
  const u = await signUp({ z: 1 });
  const expected = {
    objectId: u.id,
    createdAt: u.createdAt,
    updatedAt: u.createdAt,
    username: u.username,
    email: u.email,
    z: 1,
    ACL: { [u.id]: { read: true, write: true } },
  };
  const post = await rest('POST', '/verifyPassword', { body: { username: u.username, password: u.password } });
  assert.equal(post.status, 200);
  assert.deepEqual(post.body, expected);
  const get = await rest('GET', '/verifyPassword', { query: { username: u.username, password: u.password } });
  assert.equal(get.status, 200);
  assert.deepEqual(get.body, expected);
  const byEmail = await rest('GET', '/verifyPassword', { query: { email: u.email, password: u.password } });
  assert.deepEqual(byEmail.body, expected);
  const sdk = await Parse.User.verifyPassword(u.username, u.password); // the SDK resolves with the raw JSON
  assert.deepEqual(sdk, expected);
  // it creates no session
  const sessions = await rest('GET', '/sessions', { sessionToken: u.token });
  assert.equal(sessions.body.results.length, 1);
});

test('/verifyPassword errors match /login: 101, 200, 201', async () => {
  const u = await signUp();
  const wrong = await rest('POST', '/verifyPassword', { body: { username: u.username, password: 'nope' } });
  assert.equal(wrong.status, 404);
  assert.deepEqual(wrong.body, { code: 101, error: 'Invalid username/password.' });
  const noUser = await rest('GET', '/verifyPassword', { query: { password: 'x' } });
  assert.equal(noUser.status, 400);
  assert.deepEqual(noUser.body, { code: 200, error: 'username/email is required.' });
  const noPass = await rest('POST', '/verifyPassword', { body: { username: u.username } });
  assert.equal(noPass.status, 400);
  assert.deepEqual(noPass.body, { code: 201, error: 'password is required.' });
});

test('requestPasswordReset and verificationEmailRequest without a mail adapter are HTTP 500 code 1', async () => {
  const u = await signUp();
  const error = 'An appName, publicServerURL, and emailAdapter are required for password reset and email verification functionality.';
  for (const [path, body] of [
    ['/requestPasswordReset', { email: u.email }],
    ['/requestPasswordReset', {}],
    ['/verificationEmailRequest', { email: u.email }],
  ]) {
    const r = await rest('POST', path, { body });
    assert.equal(r.status, 500, path);
    assert.deepEqual(r.body, { code: 1, error }, path);
  }
  const err = await parseError(Parse.User.requestPasswordReset(u.email));
  assert.equal(err.code, 1);
  assert.equal(err.message, error);
});

// ---------------------------------------------------------------------------------------------
// Visibility of other users

test('other users are not readable by default: get is 101, find returns only oneself', async () => {
  const a = await signUp();
  const b = await signUp();
  const get = await rest('GET', `/users/${b.id}`, { sessionToken: a.token });
  assert.equal(get.status, 404);
  assert.deepEqual(get.body, { code: 101, error: 'Object not found.' });
  const find = await rest('GET', '/users', {
    sessionToken: a.token,
    query: { where: { username: { $in: [a.username, b.username] } } },
  });
  assert.deepEqual(find.body.results.map((x) => x.objectId), [a.id]);
  const count = await rest('GET', '/users', {
    sessionToken: a.token,
    query: { where: { username: { $in: [a.username, b.username] } }, count: 1, limit: 0 },
  });
  assert.deepEqual(count.body, { results: [], count: 1 });
  const anon = await rest('GET', '/users', { query: { where: { username: { $in: [a.username, b.username] } } } });
  assert.deepEqual(anon.body, { results: [] });
  const sdkErr = await parseError(new Parse.Query(Parse.User).get(b.id, { sessionToken: a.token }));
  assert.equal(sdkErr.code, Parse.Error.OBJECT_NOT_FOUND);
});

test('email is hidden from everyone but the user and the master key, even on a public user', async () => {
  const a = await signUp({ ACL: { '*': { read: true } }, bio: 'hi' });
  const b = await signUp();
  const expectedPublic = {
    objectId: a.id,
    createdAt: a.createdAt,
    updatedAt: a.createdAt,
    username: a.username,
    bio: 'hi',
    ACL: { '*': { read: true }, [a.id]: { read: true, write: true } },
  };
  const byOther = await rest('GET', `/users/${a.id}`, { sessionToken: b.token });
  assert.equal(byOther.status, 200);
  assert.deepEqual(byOther.body, expectedPublic);
  const byAnon = await rest('GET', `/users/${a.id}`);
  assert.deepEqual(byAnon.body, expectedPublic);
  const found = await rest('GET', '/users', { sessionToken: b.token, query: { where: { username: a.username } } });
  assert.deepEqual(found.body.results, [expectedPublic]);
  assert.equal((await rest('GET', `/users/${a.id}`, { master: true })).body.email, a.email);
  assert.equal((await me(a.token)).body.email, a.email);
  // querying on the protected field is refused
  const byEmail = await rest('GET', '/users', { sessionToken: b.token, query: { where: { email: a.email } } });
  assert.equal(byEmail.status, 400);
  assert.deepEqual(byEmail.body, { code: 119, error: 'Permission denied' });
});

test('authData is returned to its user and the master key only', async () => {
  const id = crypto.randomUUID();
  const created = await rest('POST', '/users', {
    body: { authData: { anonymous: { id } }, ACL: { '*': { read: true } } },
  });
  assert.equal(created.status, 201);
  const uid = created.body.objectId;
  const b = await signUp();
  const byOther = await rest('GET', `/users/${uid}`, { sessionToken: b.token });
  assert.equal(byOther.status, 200);
  assert.equal(byOther.body.authData, undefined);
  assert.equal(byOther.body.username, created.body.username);
  assert.equal((await rest('GET', `/users/${uid}`)).body.authData, undefined);
  assert.deepEqual((await me(created.body.sessionToken)).body.authData, { anonymous: { id } });
  assert.deepEqual((await rest('GET', `/users/${uid}`, { master: true })).body.authData, { anonymous: { id } });
});

// ---------------------------------------------------------------------------------------------
// Anonymous users, revocable sessions, loginAs

test('anonymous sign-up over REST: 201 with a generated username; the same id logs in again with 200', async () => {
  const id = crypto.randomUUID();
  const first = await rest('POST', '/users', { body: { authData: { anonymous: { id } } } });
  assert.equal(first.status, 201);
  assert.deepEqual(Object.keys(first.body).sort(), ['authDataResponse', 'createdAt', 'objectId', 'sessionToken', 'username']);
  assert.match(first.body.username, /^[A-Za-z0-9]{25}$/);
  assert.deepEqual(first.body.authDataResponse, {});
  assert.match(first.body.sessionToken, TOKEN_RE);
  const second = await rest('POST', '/users', { body: { authData: { anonymous: { id } } } });
  assert.equal(second.status, 200);
  assert.equal(second.body.objectId, first.body.objectId);
  assert.equal(second.body.username, first.body.username);
  assert.deepEqual(second.body.authData, { anonymous: { id } });
  assert.deepEqual(second.body.authDataResponse, {});
  assert.notEqual(second.body.sessionToken, first.body.sessionToken);
  assert.deepEqual(second.body.ACL, { [first.body.objectId]: { read: true, write: true } });
  const session = await rest('GET', '/sessions/me', { sessionToken: first.body.sessionToken });
  assert.deepEqual(session.body.createdWith, { action: 'login', authProvider: 'anonymous' });
});

test('Parse.AnonymousUtils.logIn creates a linked anonymous user', async () => {
  const user = await Parse.AnonymousUtils.logIn();
  assert.match(user.id, OBJECT_ID_RE);
  assert.ok(Parse.AnonymousUtils.isLinked(user));
  assert.match(user.getUsername(), /^[A-Za-z0-9]{25}$/);
  assert.match(user.getSessionToken(), TOKEN_RE);
  assert.equal(Parse.User.current().id, user.id);
  const r = await me(user.getSessionToken());
  assert.equal(r.body.objectId, user.id);
  assert.equal(typeof r.body.authData.anonymous.id, 'string');
});

test('/login with only authData is code 200 (anonymous users log in through POST /users)', async () => {
  const r = await rest('POST', '/login', { body: { authData: { anonymous: { id: crypto.randomUUID() } } } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { code: 200, error: 'username/email is required.' });
});

test('POST /upgradeToRevocableSession returns a new session object; without a session it is 101 "invalid session"', async () => {
  const u = await signUp();
  const r = await rest('POST', '/upgradeToRevocableSession', { sessionToken: u.token });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), [
    'createdAt',
    'createdWith',
    'expiresAt',
    'objectId',
    'sessionToken',
    'updatedAt',
    'user',
  ]);
  assert.deepEqual(r.body.createdWith, { action: 'upgrade' });
  assert.deepEqual(r.body.user, { __type: 'Pointer', className: '_User', objectId: u.id });
  assert.match(r.body.sessionToken, TOKEN_RE);
  assert.notEqual(r.body.sessionToken, u.token);
  // a revocable token stays valid after the upgrade
  assert.equal((await me(u.token)).status, 200);
  assert.equal((await me(r.body.sessionToken)).body.objectId, u.id);
  const none = await rest('POST', '/upgradeToRevocableSession');
  assert.equal(none.status, 404);
  assert.deepEqual(none.body, { code: 101, error: 'invalid session' });
});

test('POST /loginAs needs the master key and returns the user with a fresh session', async () => {
  const u = await signUp();
  const r = await rest('POST', '/loginAs', { master: true, body: { userId: u.id } });
  assert.equal(r.status, 200);
  assert.equal(r.body.objectId, u.id);
  assert.equal(r.body.username, u.username);
  assert.match(r.body.sessionToken, TOKEN_RE);
  const session = await rest('GET', '/sessions/me', { sessionToken: r.body.sessionToken });
  assert.deepEqual(session.body.createdWith, { action: 'login', authProvider: 'masterkey' });
  const denied = await rest('POST', '/loginAs', { body: { userId: u.id } });
  assert.equal(denied.status, 400);
  assert.deepEqual(denied.body, { code: 119, error: 'Permission denied' });
});
