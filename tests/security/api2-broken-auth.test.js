'use strict';
// OWASP API2:2023 — Broken Authentication.
//
// Attacks: replaying a session token after log-out, after a password change and after it
// expired; forging and tampering with tokens (random, bit-flipped, re-cased, truncated,
// padded, the session's objectId, the user's id); smuggling a token through the URL; logging
// in with empty, missing or non-string credentials (NoSQL-style operator objects) and with
// SQL-ish strings; harvesting password material from every response that shows a user;
// telling existing accounts apart from the log-in error; impersonating a user with a
// look-alike username; using a wrong or mangled master key.
//
// Must hold: only a live, exact token authenticates (everything else is 209 "Invalid session
// token", or "Session token is expired." once past expiresAt); credentials are checked
// literally (errors 200/201/101, never a match on an operator); no response ever carries the
// password or its hash; a wrong master key is simply not the master key. Brute force and
// credential-stuffing limits are in rate-limits.test.js; a deleted user's token is in
// findings.test.js.
const assert = require('node:assert/strict');
const { test, afterEach } = require('node:test');
const h = require('./helpers');

const { rest, Parse, INVALID_TOKEN, signUp, uniqueClass } = h;

const server = h.useServer();

Parse.User.enableUnsafeCurrentUser();
afterEach(async () => {
  await Parse.User.logOut().catch(() => {});
});

const me = (token) => rest('GET', '/users/me', { sessionToken: token });
const BAD_LOGIN = { code: 101, error: 'Invalid username/password.' };

test('a token is dead everywhere after log-out: headers, tunnelled body, SDK become', async () => {
  const u = await signUp();
  const C = uniqueClass('Auth');
  const id = await h.create(C, { v: 1, ACL: { [u.id]: h.rw } }, { sessionToken: u.token });
  assert.deepEqual((await rest('POST', '/logout', { sessionToken: u.token })).body, {});
  for (const [method, p, body] of [
    ['GET', '/users/me'],
    ['GET', `/classes/${C}/${id}`],
    ['PUT', `/classes/${C}/${id}`, { v: 2 }],
    ['POST', `/classes/${C}`, { v: 3 }],
    ['GET', '/sessions'],
    ['POST', '/upgradeToRevocableSession'],
    ['POST', '/batch', { requests: [{ method: 'GET', path: `/parse/classes/${C}/${id}` }] }],
  ]) {
    h.expectError(await rest(method, p, { sessionToken: u.token, body }), 400, INVALID_TOKEN, `${method} ${p}`);
  }
  const tunnelled = await rest('POST', `/classes/${C}/${id}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'GET', _ApplicationId: server.appId, _SessionToken: u.token }),
  });
  h.expectError(tunnelled, 400, INVALID_TOKEN, 'tunnelled');
  const err = await h.sdkError(Parse.User.become(u.token));
  assert.equal(err.code, Parse.Error.INVALID_SESSION_TOKEN);
  assert.equal((await h.masterGet(C, id)).v, 1);
  assert.equal(await h.masterCount(C), 1);
});

test('forged and tampered tokens are all 209 "Invalid session token"', async () => {
  const u = await signUp();
  const session = (await rest('GET', '/sessions/me', { sessionToken: u.token })).body;
  const hex = u.token.slice(2);
  const flip = (s, i) => s.slice(0, i) + (s[i] === '0' ? '1' : '0') + s.slice(i + 1);
  const forged = [
    `r:${h.rnd(16)}`,
    `r:${flip(hex, 0)}`,
    `r:${flip(hex, 31)}`,
    `r:${hex.toUpperCase()}`,
    `R:${hex}`,
    hex,
    `r:${hex.slice(0, 31)}`,
    `r:${hex}0`,
    `${u.token}x`,
    `r:${hex}`.replace('r:', 'r::'),
    session.objectId,
    u.id,
    `r:${u.id}`,
    'r:',
    'null',
    'undefined',
    '{"$ne":null}',
    "' OR 1=1 --",
  ];
  for (const token of forged) {
    h.expectError(await me(token), 400, INVALID_TOKEN, JSON.stringify(token));
    h.expectError(await rest('GET', '/classes/_User', { sessionToken: token }), 400, INVALID_TOKEN, JSON.stringify(token));
  }
  // the genuine token still works, so the refusals are about the tokens
  assert.equal((await me(u.token)).body.objectId, u.id);
});

test('a session token in the URL is not a credential', async () => {
  const u = await signUp();
  for (const p of [`/users/me?sessionToken=${u.token}`, `/users/me?_SessionToken=${u.token}`, `/users/me?X-Parse-Session-Token=${u.token}`]) {
    const r = await rest('GET', p);
    assert.equal(r.status, 400, p);
    assert.equal(r.body.code, 209, p);
    assert.ok(!r.text.includes(u.username), r.text);
  }
});

test('a stolen token dies when the victim changes the password', async () => {
  const victim = await signUp();
  const stolen = (await rest('POST', '/login', { body: { username: victim.username, password: victim.password } })).body
    .sessionToken;
  const change = await rest('PUT', `/users/${victim.id}`, { sessionToken: victim.token, body: { password: `new-${h.rnd()}` } });
  assert.equal(change.status, 200);
  h.expectError(await me(stolen), 400, INVALID_TOKEN);
  h.expectError(await rest('PUT', `/users/${victim.id}`, { sessionToken: stolen, body: { password: 'attacker' } }), 400, INVALID_TOKEN);
  const oldPw = await rest('POST', '/login', { body: { username: victim.username, password: victim.password } });
  h.expectError(oldPw, 404, BAD_LOGIN);
});

test('an expired session is refused with 209 "Session token is expired."', async () => {
  const other = await h.spawnBasalt({ env: { PARSE_SERVER_SESSION_LENGTH: '1' } });
  try {
    const u = await signUp({}, other.rest);
    const created = await other.rest('GET', '/sessions', { master: true });
    const expiresAt = Date.parse(created.body.results.find((x) => x.user.objectId === u.id).expiresAt.iso);
    assert.ok(expiresAt - Date.now() < 2000, 'the session length of 1 s was applied');
    await h.sleep(2200);
    for (const p of ['/users/me', '/classes/Anything', '/sessions']) {
      h.expectError(
        await other.rest('GET', p, { sessionToken: u.token }),
        400,
        { code: 209, error: 'Session token is expired.' },
        p
      );
    }
    // and it cannot be extended by its holder
    const s = await other.rest('GET', '/sessions', { master: true });
    const mine = s.body.results.find((x) => x.user.objectId === u.id);
    const extend = await other.rest('PUT', `/sessions/${mine.objectId}`, {
      sessionToken: u.token,
      body: { expiresAt: { __type: 'Date', iso: '2999-01-01T00:00:00.000Z' } },
    });
    assert.equal(extend.status, 400);
    assert.equal(extend.body.code, 209);
  } finally {
    await other.stop();
  }
});

test('a user cannot extend its own session: expiresAt is reserved (105)', async () => {
  const u = await signUp();
  const s = (await rest('GET', '/sessions/me', { sessionToken: u.token })).body;
  const r = await rest('PUT', `/sessions/${s.objectId}`, {
    sessionToken: u.token,
    body: { expiresAt: { __type: 'Date', iso: '2999-01-01T00:00:00.000Z' } },
  });
  h.expectError(r, 400, { code: 105, error: 'Invalid key name: expiresAt' });
  assert.deepEqual((await rest('GET', '/sessions/me', { sessionToken: u.token })).body.expiresAt, s.expiresAt);
});

test('empty, missing and non-string credentials are refused before any lookup (200 / 201)', async () => {
  const u = await signUp();
  const cases = [
    [{ username: u.username, password: '' }, { code: 201, error: 'password is required.' }],
    [{ username: u.username }, { code: 201, error: 'password is required.' }],
    [{ username: u.username, password: null }, { code: 201, error: 'password is required.' }],
    [{ username: u.username, password: { $ne: null } }, { code: 201, error: 'password is required.' }],
    [{ username: u.username, password: { $regex: '.*' } }, { code: 201, error: 'password is required.' }],
    [{ username: u.username, password: [u.password] }, { code: 201, error: 'password is required.' }],
    [{ username: u.username, password: true }, { code: 201, error: 'password is required.' }],
    [{ username: '', password: 'x' }, { code: 200, error: 'username/email is required.' }],
    [{ username: { $ne: null }, password: u.password }, { code: 200, error: 'username/email is required.' }],
    [{ username: { $regex: '^u_' }, password: u.password }, { code: 200, error: 'username/email is required.' }],
    [{ email: { $gt: '' }, password: u.password }, { code: 200, error: 'username/email is required.' }],
  ];
  for (const [body, expected] of cases) {
    for (const p of ['/login', '/verifyPassword']) {
      const r = await rest('POST', p, { body });
      h.expectError(r, 400, expected, `${p} ${JSON.stringify(body)}`);
      assert.equal(r.body.sessionToken, undefined);
    }
  }
  // bracket syntax in the query string is not an operator either
  for (const qs of [`username=${u.username}&password[$ne]=x`, 'username[$ne]=x&password[$ne]=x', `username=${u.username}&password[]=x`]) {
    const r = await rest('GET', `/login?${qs}`);
    assert.equal(r.status, 400, qs);
    assert.ok([200, 201].includes(r.body.code), `${qs}: ${r.text}`);
  }
  const sessions = await rest('GET', '/sessions', { master: true, query: { where: { user: h.userPtr(u.id) } } });
  assert.equal(sessions.body.results.length, 1, 'no session was created by any of these attempts');
});

test('SQL-ish and wildcard strings in credentials match nothing', async () => {
  const u = await signUp();
  const nasty = ["' OR '1'='1", "' OR 1=1 --", '" OR ""="', `${u.username}' --`, `${u.username}%`, '%', '_', '*', '.*', `${u.username}\u0000`];
  for (const s of nasty) {
    h.expectError(await rest('POST', '/login', { body: { username: s, password: s } }), 404, BAD_LOGIN, s);
    h.expectError(await rest('POST', '/login', { body: { username: u.username, password: s } }), 404, BAD_LOGIN, `pw ${s}`);
    h.expectError(await rest('POST', '/login', { body: { email: s, password: u.password } }), 404, BAD_LOGIN, `email ${s}`);
  }
  // the same strings in a where clause are plain values
  for (const s of nasty) {
    const r = await rest('GET', '/users', { sessionToken: u.token, query: { where: { username: s } } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { results: [] }, s);
  }
});

test('the log-in error does not tell an unknown user from a wrong password', async () => {
  const u = await signUp();
  const unknown = await rest('POST', '/login', { body: { username: `nobody_${h.rnd()}`, password: 'x' } });
  const wrong = await rest('POST', '/login', { body: { username: u.username, password: 'x' } });
  const wrongEmail = await rest('POST', '/login', { body: { email: `nobody_${h.rnd()}@example.com`, password: 'x' } });
  for (const r of [unknown, wrong, wrongEmail]) h.expectError(r, 404, BAD_LOGIN);
  assert.equal(unknown.text, wrong.text);
  const v1 = await rest('POST', '/verifyPassword', { body: { username: `nobody_${h.rnd()}`, password: 'x' } });
  const v2 = await rest('POST', '/verifyPassword', { body: { username: u.username, password: 'x' } });
  assert.equal(v1.text, v2.text);
  h.expectError(v1, 404, BAD_LOGIN);
});

test('look-alike usernames cannot take over an account (case, trailing space, NUL, full-width)', async () => {
  const victim = await signUp();
  const upper = await rest('POST', '/users', { body: { username: victim.username.toUpperCase(), password: 'attacker-pw' } });
  h.expectError(upper, 400, { code: 202, error: 'Account already exists for this username.' });
  const fullWidth = [...victim.username].map((c) => (/[a-z0-9]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('');
  for (const alias of [`${victim.username} `, ` ${victim.username}`, `${victim.username}\u0000`, fullWidth, `${victim.username}\u200b`]) {
    const r = await rest('POST', '/users', { body: { username: alias, password: 'attacker-pw' } });
    if (r.status === 201) {
      assert.notEqual(r.body.objectId, victim.id);
    } else {
      assert.equal(r.status, 400, r.text);
    }
    // whatever happened, the attacker's password does not open the victim's account
    h.expectError(await rest('POST', '/login', { body: { username: victim.username, password: 'attacker-pw' } }), 404, BAD_LOGIN);
  }
  const ok = await rest('POST', '/login', { body: { username: victim.username, password: victim.password } });
  assert.equal(ok.body.objectId, victim.id);
});

test('no response that shows a user ever carries the password or its hash', async () => {
  const pw = `Very-Secret-${h.rnd()}`;
  const u = await signUp({ password: pw, ACL: { '*': { read: true } } });
  const C = uniqueClass('AuthOwner');
  const ownedId = await h.create(C, { owner: h.userPtr(u.id) });
  const responses = {
    signup: await rest('POST', '/users', { body: { username: `u_${h.rnd()}`, password: pw } }),
    login: await rest('POST', '/login', { body: { username: u.username, password: pw } }),
    loginGet: await rest('GET', '/login', { query: { username: u.username, password: pw } }),
    me: await me(u.token),
    verify: await rest('POST', '/verifyPassword', { body: { username: u.username, password: pw } }),
    get: await rest('GET', `/users/${u.id}`, { sessionToken: u.token }),
    anonGet: await rest('GET', `/users/${u.id}`),
    masterGet: await rest('GET', `/users/${u.id}`, { master: true }),
    masterFind: await rest('GET', '/users', { master: true, query: { where: { username: u.username } } }),
    masterKeys: await rest('GET', '/users', { master: true, query: { keys: 'password,_hashed_password,username' } }),
    include: await rest('GET', `/classes/${C}/${ownedId}`, { master: true, query: { include: 'owner' } }),
    sessions: await rest('GET', '/sessions', { sessionToken: u.token, query: { include: 'user' } }),
    batch: await rest('POST', '/batch', {
      master: true,
      body: { requests: [{ method: 'GET', path: `/parse/classes/_User/${u.id}` }, { method: 'GET', path: '/parse/classes/_User' }] },
    }),
    loginAs: await rest('POST', '/loginAs', { master: true, body: { userId: u.id } }),
    sdk: { status: 200, text: JSON.stringify((await Parse.User.logIn(u.username, pw)).toJSON()) },
  };
  for (const [name, r] of Object.entries(responses)) {
    assert.ok(r.status >= 200 && r.status < 300, `${name}: ${r.status} ${r.text}`);
    assert.ok(!r.text.includes(pw), `${name} echoes the password: ${r.text}`);
    assert.ok(!/"(password|_hashed_password)"\s*:/.test(r.text), `${name} has a password field: ${r.text}`);
    assert.ok(!/\$argon2|\$2[aby]\$/.test(r.text), `${name} has a password hash: ${r.text}`);
  }
  // querying on the hash is refused, not answered
  const byHash = await rest('GET', '/users', { master: true, query: { where: { _hashed_password: { $exists: true } } } });
  h.expectError(byHash, 400, { code: 105, error: 'Invalid key name: _hashed_password' });
});

test('a wrong, truncated or re-cased master key is not the master key', async () => {
  const mk = server.masterKey;
  for (const key of [`${mk}x`, mk.slice(0, -1), mk.toUpperCase(), `${mk}\t${mk}`, 'true', '1', '*']) {
    if (key === mk) continue;
    const r = await rest('GET', '/schemas', { headers: { 'X-Parse-Master-Key': key } });
    h.expectError(r, 403, h.MASTER_REQUIRED, JSON.stringify(key));
  }
  const C = uniqueClass('AuthMk');
  const id = await h.create(C, { v: 1, ACL: {} }, { master: true });
  h.expectError(await rest('GET', `/classes/${C}/${id}`, { headers: { 'X-Parse-Master-Key': `${mk}x` } }), 404, h.NOT_FOUND);
  const tunnelled = await rest('POST', `/schemas/${C}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'GET', _ApplicationId: server.appId, _MasterKey: mk.slice(0, -1) }),
  });
  h.expectError(tunnelled, 403, h.MASTER_REQUIRED);
});

test('upgradeToRevocableSession and /sessions/me refuse forged tokens', async () => {
  h.expectError(await rest('POST', '/upgradeToRevocableSession', { sessionToken: `r:${h.rnd(16)}` }), 400, INVALID_TOKEN);
  h.expectError(await rest('POST', '/upgradeToRevocableSession', { sessionToken: 'legacy-token-xyz' }), 400, INVALID_TOKEN);
  h.expectError(await rest('GET', '/sessions/me', { sessionToken: `r:${h.rnd(16)}` }), 400, {
    code: 209,
    error: 'Session token not found.',
  });
  const count = await rest('GET', '/sessions', { master: true, query: { count: 1, limit: 0 } });
  const before = count.body.count;
  await rest('POST', '/upgradeToRevocableSession', { sessionToken: `r:${h.rnd(16)}` });
  assert.equal((await rest('GET', '/sessions', { master: true, query: { count: 1, limit: 0 } })).body.count, before);
});

test('account lock-out (accountLockout): after the threshold even the right password is refused, by every log-in path', async () => {
  const other = await h.spawnBasalt({ env: { PARSE_SERVER_ACCOUNT_LOCKOUT: JSON.stringify({ threshold: 3, duration: 1 }) } });
  const LOCKED = {
    code: 101,
    error: 'Your account is locked due to multiple failed login attempts. Please try again after 1 minute(s)',
  };
  try {
    const victim = await signUp({}, other.rest);
    const bystander = await signUp({}, other.rest);
    for (let i = 0; i < 3; i += 1) {
      h.expectError(await other.rest('POST', '/login', { body: { username: victim.username, password: `guess-${i}` } }), 404, BAD_LOGIN, `guess ${i}`);
    }
    const attempts = [
      ['POST', '/login', { body: { username: victim.username, password: 'guess-4' } }],
      ['POST', '/login', { body: { username: victim.username, password: victim.password } }],
      ['GET', '/login', { query: { username: victim.username, password: victim.password } }],
      ['POST', '/login', { body: { email: victim.email, password: victim.password } }],
      ['POST', '/login', { body: { username: victim.email, password: victim.password } }],
      ['POST', '/verifyPassword', { body: { username: victim.username, password: victim.password } }],
    ];
    for (const [method, p, opts] of attempts) {
      const r = await other.rest(method, p, opts);
      assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
      assert.deepEqual(r.body, LOCKED, `${method} ${p}`);
      assert.equal(r.body.sessionToken, undefined);
    }
    // the lock is per account
    assert.equal((await other.rest('POST', '/login', { body: { username: bystander.username, password: bystander.password } })).status, 200);
    // and the victim's existing session is not a way around it, nor is it killed by the attacker
    assert.equal((await other.rest('GET', '/users/me', { sessionToken: victim.token })).status, 200);
  } finally {
    await other.stop();
  }
});

test('password policy (passwordPolicy): weak, username-containing and recently used passwords are refused (142)', async () => {
  const policy = { validatorPattern: '^(?=.*[0-9]).{8,}$', doNotAllowUsername: true, maxPasswordHistory: 2 };
  const other = await h.spawnBasalt({ env: { PARSE_SERVER_PASSWORD_POLICY: JSON.stringify(policy) } });
  const WEAK = { code: 142, error: 'Password does not meet the Password Policy requirements.' };
  try {
    const name = `pol_${h.rnd()}`;
    h.expectError(await other.rest('POST', '/users', { body: { username: name, password: 'short' } }), 400, WEAK);
    h.expectError(await other.rest('POST', '/users', { body: { username: name, password: 'nodigitshere' } }), 400, WEAK);
    h.expectError(await other.rest('POST', '/users', { body: { username: name, password: `${name}123` } }), 400, {
      code: 142,
      error: 'Password cannot contain your username.',
    });
    assert.equal(await h.masterCount('_User', {}, other.rest), 0);
    const first = 'First-pass1';
    const u = await other.rest('POST', '/users', { body: { username: name, password: first } });
    assert.equal(u.status, 201, u.text);
    const id = u.body.objectId;
    h.expectError(await other.rest('PUT', `/users/${id}`, { sessionToken: u.body.sessionToken, body: { password: 'weak' } }), 400, WEAK);
    const second = await other.rest('PUT', `/users/${id}`, { sessionToken: u.body.sessionToken, body: { password: 'Second-pass2' } });
    assert.equal(second.status, 200, second.text);
    const back = await other.rest('PUT', `/users/${id}`, { sessionToken: second.body.sessionToken, body: { password: first } });
    h.expectError(back, 400, { code: 142, error: 'New password should not be the same as last 2 passwords.' });
    assert.equal((await other.rest('POST', '/login', { body: { username: name, password: 'Second-pass2' } })).status, 200);
    h.expectError(await other.rest('POST', '/login', { body: { username: name, password: first } }), 404, BAD_LOGIN);
  } finally {
    await other.stop();
  }
});
