'use strict';
// OWASP API3:2023 — Broken Object Property Level Authorization (mass assignment and excessive
// data exposure).
//
// Attacks: writing properties a client must not control — emailVerified, the password hash and
// Parse's other internal _User columns, _rperm/_wperm, objectId, createdAt/updatedAt, a
// session's user/token/expiry — on sign-up, update, /classes/_User, /batch and the SDK's
// tunnelled POST; rewriting the ACL of someone else's user; reading protected properties
// (e-mail, authData, CLP protectedFields) of readable objects through get, find, keys,
// include, where, order and count.
//
// Must hold: forbidden writes are refused with Parse's code (119, 105) and leave the stored
// object unchanged; server-owned properties (objectId, createdAt, updatedAt) keep the server's
// values; protected properties are absent from every answer to others and cannot be filtered
// or sorted on (119). Leaks found through sub-queries, the stored `sessionToken` property and
// unverified authData are in findings.test.js.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, Parse, rw, signUp, create, masterGet, uniqueClass } = h;

h.useServer();

const DENIED = { code: 119, error: 'Permission denied' };

test('emailVerified cannot be mass-assigned: sign-up, update, /classes/_User, batch, tunnelled SDK body', async () => {
  const u = await signUp();
  const attempts = [
    ['POST', '/users', { username: `m_${h.rnd()}`, password: 'pw', emailVerified: true }],
    ['POST', '/classes/_User', { username: `m_${h.rnd()}`, password: 'pw', emailVerified: true }],
    ['PUT', `/users/${u.id}`, { emailVerified: true }],
    ['PUT', `/classes/_User/${u.id}`, { emailVerified: true }],
    ['PUT', `/users/${u.id}`, { emailVerified: { __op: 'Delete' } }],
  ];
  for (const [method, p, body] of attempts) {
    h.expectError(await rest(method, p, { sessionToken: u.token, body }), 400, DENIED, `${method} ${p}`);
  }
  const tunnelled = await rest('POST', `/users/${u.id}`, {
    noAuth: true,
    body: JSON.stringify({ _method: 'PUT', _ApplicationId: h.ctx.appId, _SessionToken: u.token, emailVerified: true }),
  });
  h.expectError(tunnelled, 400, DENIED, 'tunnelled');
  const batch = await rest('POST', '/batch', {
    sessionToken: u.token,
    body: {
      requests: [
        { method: 'PUT', path: `/parse/classes/_User/${u.id}`, body: { emailVerified: true } },
        { method: 'POST', path: '/parse/classes/_User', body: { username: `m_${h.rnd()}`, password: 'pw', emailVerified: true } },
      ],
    },
  });
  assert.deepEqual(batch.body, [{ error: DENIED }, { error: DENIED }]);
  const user = Parse.User.createWithoutData(u.id);
  user.set('emailVerified', true);
  const sdk = await h.sdkError(user.save(null, { sessionToken: u.token }));
  assert.equal(sdk.code, Parse.Error.OPERATION_FORBIDDEN);
  assert.equal((await masterGet('_User', u.id)).emailVerified, undefined);
  const made = await rest('GET', '/users', { master: true, query: { where: { emailVerified: true }, count: 1, limit: 0 } });
  assert.equal(made.body.count, 0, 'no user was created with emailVerified');
});

test('internal _User columns and ACL columns cannot be written (105), on sign-up and on update', async () => {
  const u = await signUp();
  const before = await masterGet('_User', u.id);
  const internal = [
    '_hashed_password',
    '_rperm',
    '_wperm',
    '_acl',
    '_session_token',
    '_email_verify_token',
    '_email_verify_token_expires_at',
    '_perishable_token',
    '_perishable_token_expires_at',
    '_failed_login_count',
    '_account_lockout_expires_at',
    '_password_changed_at',
    '_password_history',
    '_auth_data_anonymous',
    '_tombstone',
    '_metadata',
    '_id',
    '_created_at',
    '_updated_at',
    '__proto__',
  ];
  for (const field of internal) {
    const value = field === '_rperm' || field === '_wperm' ? ['*'] : 'x';
    const signup = await rest('POST', '/users', { body: { username: `m_${h.rnd()}`, password: 'pw', [field]: value } });
    h.expectError(signup, 400, { code: 105, error: `Invalid field name: ${field}.` }, `sign-up ${field}`);
    const put = await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { [field]: value } });
    h.expectError(put, 400, { code: 105, error: `Invalid field name: ${field}.` }, `update ${field}`);
  }
  assert.deepEqual(await masterGet('_User', u.id), before);
  const login = await rest('POST', '/login', { body: { username: u.username, password: u.password } });
  assert.equal(login.status, 200, 'the password hash was not replaced');
});

test('objectId cannot be chosen or changed; createdAt and updatedAt keep the server\'s values', async () => {
  const u = await signUp();
  const C = uniqueClass('Bopla');
  const chosen = await rest('POST', `/classes/${C}`, { sessionToken: u.token, body: { objectId: 'AAAAAAAAAA', v: 1 } });
  h.expectError(chosen, 400, { code: 105, error: 'objectId is an invalid field name.' });
  const signup = await rest('POST', '/users', { body: { username: `m_${h.rnd()}`, password: 'pw', objectId: u.id } });
  h.expectError(signup, 400, { code: 105, error: 'objectId is an invalid field name.' });
  const old = '2000-01-01T00:00:00.000Z';
  const t0 = Date.now();
  const r = await rest('POST', `/classes/${C}`, {
    sessionToken: u.token,
    body: { v: 1, createdAt: old, updatedAt: { __type: 'Date', iso: old } },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.body.objectId;
  const put = await rest('PUT', `/classes/${C}/${id}`, {
    sessionToken: u.token,
    body: { createdAt: { __type: 'Date', iso: old }, updatedAt: old, objectId: 'BBBBBBBBBB' },
  });
  h.expectError(put, 400, { code: 105, error: 'objectId is an invalid field name.' });
  const put2 = await rest('PUT', `/classes/${C}/${id}`, { sessionToken: u.token, body: { createdAt: old, updatedAt: old, v: 2 } });
  assert.equal(put2.status, 200, put2.text);
  const stored = await masterGet(C, id);
  assert.equal(stored.objectId, id);
  for (const k of ['createdAt', 'updatedAt']) {
    assert.ok(Date.parse(stored[k]) >= t0 - 5000, `${k} was overridden: ${stored[k]}`);
  }
  assert.equal(await h.masterCount(C, { objectId: { $in: ['AAAAAAAAAA', 'BBBBBBBBBB'] } }), 0);
  const uBefore = await masterGet('_User', u.id);
  await rest('PUT', `/users/${u.id}`, { sessionToken: u.token, body: { createdAt: old } });
  assert.equal((await masterGet('_User', u.id)).createdAt, uBefore.createdAt);
});

test('granting oneself access through another user\'s ACL is refused and the ACL is unchanged', async () => {
  const victim = await signUp();
  const mallory = await signUp();
  const beforeUser = await masterGet('_User', victim.id);
  for (const body of [{ ACL: { [mallory.id]: rw } }, { ACL: { '*': rw } }]) {
    h.expectError(await rest('PUT', `/users/${victim.id}`, { sessionToken: mallory.token, body }), 400, {
      code: 206,
      error: 'Permission denied',
    });
  }
  assert.deepEqual(await masterGet('_User', victim.id), beforeUser);
  // on a plain object shared read-only with Mallory, she still cannot widen the ACL
  const C = uniqueClass('BoplaAcl');
  const id = await create(C, { v: 1, ACL: { [victim.id]: rw, [mallory.id]: { read: true } } }, { sessionToken: victim.token });
  const before = await masterGet(C, id);
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: mallory.token })).status, 200);
  const widen = await rest('PUT', `/classes/${C}/${id}`, { sessionToken: mallory.token, body: { ACL: { [mallory.id]: rw } } });
  h.expectError(widen, 404, h.NOT_FOUND);
  assert.deepEqual(await masterGet(C, id), before);
});

test('a session\'s user, token, origin and installation cannot be assigned by its holder (session transfer)', async () => {
  const victim = await signUp();
  const mallory = await signUp();
  const s = (await rest('GET', '/sessions/me', { sessionToken: mallory.token })).body;
  for (const [field, value] of [
    ['user', h.userPtr(victim.id)],
    ['sessionToken', victim.token],
    ['createdWith', { action: 'login', authProvider: 'masterkey' }],
    ['installationId', 'victim-installation'],
  ]) {
    const put = await rest('PUT', `/sessions/${s.objectId}`, { sessionToken: mallory.token, body: { [field]: value } });
    h.expectError(put, 400, { code: 105, error: `Invalid key name: ${field}` }, `update ${field}`);
    const post = await rest('POST', '/sessions', { sessionToken: mallory.token, body: { [field]: value } });
    h.expectError(post, 400, { code: 105, error: `Invalid key name: ${field}` }, `create ${field}`);
  }
  const after = (await rest('GET', '/sessions/me', { sessionToken: mallory.token })).body;
  assert.deepEqual(after, s);
  assert.equal((await rest('GET', '/users/me', { sessionToken: mallory.token })).body.objectId, mallory.id);
});

test('e-mail is never shown to other users, even on a public profile (get, find, keys, include, SDK)', async () => {
  const victim = await signUp({ ACL: { '*': { read: true } }, bio: 'hello' });
  const mallory = await signUp();
  const C = uniqueClass('BoplaRef');
  const refId = await create(C, { owner: h.userPtr(victim.id) });
  const answers = {
    get: await rest('GET', `/users/${victim.id}`, { sessionToken: mallory.token }),
    anon: await rest('GET', `/users/${victim.id}`),
    find: await rest('GET', '/users', { sessionToken: mallory.token, query: { where: { objectId: victim.id } } }),
    keys: await rest('GET', `/users/${victim.id}`, { sessionToken: mallory.token, query: { keys: 'email,username,authData' } }),
    include: await rest('GET', `/classes/${C}/${refId}`, { sessionToken: mallory.token, query: { include: 'owner' } }),
    includeAll: await rest('GET', `/classes/${C}`, { sessionToken: mallory.token, query: { include: '*' } }),
    batch: await rest('POST', '/batch', {
      sessionToken: mallory.token,
      body: { requests: [{ method: 'GET', path: `/parse/classes/_User/${victim.id}` }] },
    }),
  };
  for (const [name, r] of Object.entries(answers)) {
    assert.equal(r.status, 200, `${name}: ${r.text}`);
    assert.ok(r.text.includes(victim.username), `${name} should show the public profile: ${r.text}`);
    assert.ok(!r.text.includes(victim.email), `${name} leaks the e-mail: ${r.text}`);
    assert.ok(!/"email"\s*:/.test(r.text), `${name} has an email key: ${r.text}`);
  }
  const sdk = await new Parse.Query(Parse.User).get(victim.id, { sessionToken: mallory.token });
  assert.equal(sdk.get('email'), undefined);
  assert.equal(sdk.get('bio'), 'hello');
  // the owner and the master key do see it: the field exists
  assert.equal((await rest('GET', '/users/me', { sessionToken: victim.token })).body.email, victim.email);
  assert.equal((await masterGet('_User', victim.id)).email, victim.email);
});

test('e-mail cannot be filtered, sorted or counted on by other users (119)', async () => {
  const victim = await signUp({ ACL: { '*': { read: true } } });
  const mallory = await signUp();
  const wheres = [
    { email: victim.email },
    { email: { $regex: '^u_' } },
    { email: { $exists: true } },
    { email: { $in: [victim.email] } },
    { email: { $gt: '' } },
    { $or: [{ email: victim.email }, { username: 'x' }] },
    { $and: [{ email: victim.email }] },
    { $nor: [{ email: 'x' }] },
    { email: { $text: { $search: { $term: 'example' } } } },
  ];
  for (const where of wheres) {
    for (const opts of [{ sessionToken: mallory.token }, {}]) {
      const r = await rest('GET', '/users', { ...opts, query: { where } });
      h.expectError(r, 400, DENIED, JSON.stringify(where));
      const c = await rest('GET', '/users', { ...opts, query: { where, count: 1, limit: 0 } });
      h.expectError(c, 400, DENIED, `count ${JSON.stringify(where)}`);
    }
  }
  for (const order of ['email', '-email', 'username,email']) {
    h.expectError(await rest('GET', '/users', { sessionToken: mallory.token, query: { order } }), 400, DENIED, order);
  }
  const batch = await rest('POST', '/batch', {
    sessionToken: mallory.token,
    body: { requests: [{ method: 'GET', path: '/parse/classes/_User', body: { where: { email: victim.email } } }] },
  });
  assert.deepEqual(batch.body, [{ error: DENIED }]);
  const sdk = await h.sdkError(new Parse.Query(Parse.User).equalTo('email', victim.email).find({ sessionToken: mallory.token }));
  assert.equal(sdk.code, Parse.Error.OPERATION_FORBIDDEN);
});

test('authData is shown to its user and the master key only', async () => {
  const id = `anon-${h.rnd(8)}`;
  const created = await rest('POST', '/users', { body: { authData: { anonymous: { id } }, ACL: { '*': { read: true } } } });
  assert.equal(created.status, 201, created.text);
  const mallory = await signUp();
  for (const opts of [{ sessionToken: mallory.token }, {}]) {
    for (const query of [undefined, { keys: 'authData' }, { keys: 'authData.anonymous.id' }]) {
      const r = await rest('GET', `/users/${created.body.objectId}`, { ...opts, query });
      assert.equal(r.status, 200);
      assert.ok(!r.text.includes(id), r.text);
    }
    const find = await rest('GET', '/users', { ...opts, query: { keys: 'authData' } });
    assert.ok(!find.text.includes(id), find.text);
  }
  assert.deepEqual((await rest('GET', '/users/me', { sessionToken: created.body.sessionToken })).body.authData, {
    anonymous: { id },
  });
});

test('CLP protectedFields: hidden from get/find/keys/include and refused in where/order/count', async () => {
  const C = uniqueClass('BoplaProt');
  const clp = {
    find: { '*': true },
    get: { '*': true },
    count: { '*': true },
    create: { '*': true },
    update: { '*': true },
    delete: { '*': true },
    addField: { '*': true },
    protectedFields: { '*': ['ssn'] },
  };
  const schema = await rest('POST', `/schemas/${C}`, {
    master: true,
    body: { className: C, fields: { ssn: { type: 'String' }, name: { type: 'String' } }, classLevelPermissions: clp },
  });
  assert.equal(schema.status, 200, schema.text);
  const ssn = `ssn-${h.rnd()}`;
  const id = await create(C, { ssn, name: 'n' });
  const P = uniqueClass('BoplaProtRef');
  const pid = await create(P, { ref: h.ptr(C, id) });
  const u = await signUp();
  for (const opts of [{ sessionToken: u.token }, {}]) {
    for (const [p, query] of [
      [`/classes/${C}/${id}`, undefined],
      [`/classes/${C}`, undefined],
      [`/classes/${C}`, { keys: 'ssn' }],
      [`/classes/${C}/${id}`, { keys: 'ssn,name' }],
      [`/classes/${P}/${pid}`, { include: 'ref' }],
      [`/classes/${P}`, { include: '*' }],
    ]) {
      const r = await rest('GET', p, { ...opts, query });
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.text.includes(ssn), `${p} ${JSON.stringify(query)} leaks: ${r.text}`);
    }
    for (const query of [
      { where: { ssn } },
      { where: { ssn: { $regex: '^ssn' } } },
      { where: { $or: [{ ssn }, { name: 'x' }] } },
      { order: 'ssn' },
      { where: { ssn: { $exists: true } }, count: 1, limit: 0 },
    ]) {
      h.expectError(await rest('GET', `/classes/${C}`, { ...opts, query }), 400, DENIED, JSON.stringify(query));
    }
  }
  assert.equal((await masterGet(C, id)).ssn, ssn);
});

test('writing a protected field of someone else\'s readable object is still an ACL question (101)', async () => {
  const owner = await signUp();
  const mallory = await signUp();
  const C = uniqueClass('BoplaRO');
  const id = await create(C, { price: 10, ACL: { '*': { read: true }, [owner.id]: rw } }, { sessionToken: owner.token });
  const before = await masterGet(C, id);
  for (const body of [{ price: 0 }, { price: { __op: 'Increment', amount: -10 } }, { price: { __op: 'Delete' } }]) {
    h.expectError(await rest('PUT', `/classes/${C}/${id}`, { sessionToken: mallory.token, body }), 404, h.NOT_FOUND);
  }
  assert.deepEqual(await masterGet(C, id), before);
});
