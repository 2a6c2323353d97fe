'use strict';
// OWASP API6:2023 — Unrestricted Access to Sensitive Business Flows.
//
// Attacks on the flows an automated client abuses: racing sign-ups to register the same
// username or e-mail twice (account duplication / squatting), racing counters (double spend),
// racing role creation, hijacking an account through the anonymous sign-up flow, and kicking a
// victim out by logging in with the victim's installation id.
//
// Must hold: uniqueness and atomicity survive concurrency (exactly one winner, exact totals),
// the anonymous flow never lands in somebody else's account, and a log-in only ever replaces
// the caller's own sessions. Throttling of log-in, sign-up and password checks (brute force,
// credential stuffing, sign-up flooding) is in rate-limits.test.js.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, Parse, rw, signUp, uniqueClass } = h;

h.useServer();

test('twelve concurrent sign-ups with one username: exactly one account, the rest 202', async () => {
  const username = `race_${h.rnd()}`;
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => rest('POST', '/users', { body: { username, password: `pw-${i}` } }))
  );
  const won = results.filter((r) => r.status === 201);
  assert.equal(won.length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 201)) {
    h.expectError(r, 400, { code: 202, error: 'Account already exists for this username.' });
  }
  const count = await rest('GET', '/users', { master: true, query: { where: { username }, count: 1, limit: 0 } });
  assert.equal(count.body.count, 1);
});

test('concurrent sign-ups with one e-mail (and its upper-case form): exactly one account, the rest 203', async () => {
  const email = `race_${h.rnd()}@example.com`;
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      rest('POST', '/users', { body: { username: `r_${h.rnd()}`, password: 'pw', email: i % 2 ? email.toUpperCase() : email } })
    )
  );
  assert.equal(results.filter((r) => r.status === 201).length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 201)) {
    h.expectError(r, 400, { code: 203, error: 'Account already exists for this email address.' });
  }
  const count = await rest('GET', '/users', { master: true, query: { where: { email: { $in: [email, email.toUpperCase()] } }, count: 1, limit: 0 } });
  assert.equal(count.body.count, 1);
});

test('racing a username change into someone else\'s name fails: names stay unique', async () => {
  const a = await signUp();
  const b = await signUp();
  const target = `target_${h.rnd()}`;
  const [ra, rb] = await Promise.all([
    rest('PUT', `/users/${a.id}`, { sessionToken: a.token, body: { username: target } }),
    rest('PUT', `/users/${b.id}`, { sessionToken: b.token, body: { username: target.toUpperCase() } }),
  ]);
  assert.equal([ra, rb].filter((r) => r.status === 200).length, 1, `${ra.text} / ${rb.text}`);
  const count = await rest('GET', '/users', {
    master: true,
    query: { where: { username: { $in: [target, target.toUpperCase()] } }, count: 1, limit: 0 },
  });
  assert.equal(count.body.count, 1);
});

test('thirty concurrent Increments (a double-spend race) add up exactly', async () => {
  const u = await signUp();
  const C = uniqueClass('Wallet');
  const id = await h.create(C, { credits: 100, ACL: { [u.id]: rw } }, { sessionToken: u.token });
  const results = await Promise.all(
    Array.from({ length: 30 }, () =>
      rest('PUT', `/classes/${C}/${id}`, { sessionToken: u.token, body: { credits: { __op: 'Increment', amount: -3 } } })
    )
  );
  assert.ok(results.every((r) => r.status === 200), results.map((r) => r.status).join(','));
  assert.equal((await h.masterGet(C, id)).credits, 10);
  // and through the SDK's own increment
  const obj = Parse.Object.extend(C).createWithoutData(id);
  await Promise.all(
    Array.from({ length: 10 }, () => {
      const o = obj.clone();
      o.id = id;
      o.increment('credits', 1);
      return o.save(null, { sessionToken: u.token });
    })
  );
  assert.equal((await h.masterGet(C, id)).credits, 20);
});

test('concurrent AddUnique of one value to a list stores it once', async () => {
  const C = uniqueClass('Votes');
  const id = await h.create(C, { voters: [] });
  await Promise.all(
    Array.from({ length: 15 }, () => rest('PUT', `/classes/${C}/${id}`, { body: { voters: { __op: 'AddUnique', objects: ['alice'] } } }))
  );
  assert.deepEqual((await h.masterGet(C, id)).voters, ['alice']);
});

test('concurrent creation of one role name: exactly one role', async () => {
  const name = uniqueClass('RaceRole');
  const results = await Promise.all(
    Array.from({ length: 10 }, () => rest('POST', '/roles', { body: { name, ACL: { '*': { read: true } } } }))
  );
  assert.equal(results.filter((r) => r.status === 201).length, 1, results.map((r) => r.status).join(','));
  const roles = await rest('GET', '/roles', { master: true, query: { where: { name } } });
  assert.equal(roles.body.results.length, 1);
});

test('the anonymous sign-up flow never logs into an existing account', async () => {
  const victim = await signUp();
  const before = await h.masterGet('_User', victim.id);
  for (const body of [
    { authData: { anonymous: { id: crypto.randomUUID() } }, username: victim.username },
    { authData: { anonymous: { id: crypto.randomUUID() } }, username: victim.username.toUpperCase() },
    { authData: { anonymous: { id: crypto.randomUUID() } }, email: victim.email },
    { authData: { anonymous: { id: victim.id } } },
  ]) {
    const r = await rest('POST', '/users', { body });
    assert.ok(r.status === 201 || r.status === 400, r.text);
    assert.notEqual(r.body.objectId, victim.id, `landed in the victim's account: ${r.text}`);
    if (r.status === 201) {
      assert.notEqual((await rest('GET', '/users/me', { sessionToken: r.body.sessionToken })).body.objectId, victim.id);
    }
  }
  assert.deepEqual(await h.masterGet('_User', victim.id), before);
});

test('logging in with the victim\'s installation id does not end the victim\'s session', async () => {
  const victim = await signUp();
  const installation = crypto.randomUUID();
  const vt = (await rest('POST', '/login', {
    headers: { 'X-Parse-Installation-Id': installation },
    body: { username: victim.username, password: victim.password },
  })).body.sessionToken;
  const mallory = await signUp();
  for (let i = 0; i < 3; i += 1) {
    const r = await rest('POST', '/login', {
      headers: { 'X-Parse-Installation-Id': installation },
      body: { username: mallory.username, password: mallory.password },
    });
    assert.equal(r.status, 200);
  }
  const r = await rest('POST', '/users', {
    headers: { 'X-Parse-Installation-Id': installation },
    body: { username: `m2_${h.rnd()}`, password: 'pw' },
  });
  assert.equal(r.status, 201);
  assert.equal((await rest('GET', '/users/me', { sessionToken: vt })).body.objectId, victim.id);
  assert.equal((await rest('GET', '/users/me', { sessionToken: victim.token })).body.objectId, victim.id);
});

test('a sign-up that fails validation leaves no half-made account or session behind', async () => {
  const taken = await signUp();
  const sessionsBefore = (await rest('GET', '/sessions', { master: true, query: { count: 1, limit: 0 } })).body.count;
  const usersBefore = await h.masterCount('_User');
  for (const body of [
    { username: taken.username, password: 'pw' },
    { username: `x_${h.rnd()}`, password: 'pw', email: taken.email },
    { username: `x_${h.rnd()}`, password: 'pw', email: 'not-an-email' },
    { username: `x_${h.rnd()}`, password: 'pw', emailVerified: true },
    { username: `x_${h.rnd()}`, password: '' },
  ]) {
    const r = await rest('POST', '/users', { body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
  }
  assert.equal(await h.masterCount('_User'), usersBefore);
  assert.equal((await rest('GET', '/sessions', { master: true, query: { count: 1, limit: 0 } })).body.count, sessionsBefore);
});
