'use strict';
// OWASP API1:2023 — Broken Object Level Authorization.
//
// Attacks: a signed-in attacker (and an anonymous caller) who knows or guesses the objectId of
// someone else's object tries to read, count, update, delete or re-ACL it, directly
// (/classes, /users, /sessions), through the SDK, through /batch (plain and transactional) and
// through every query feature that can pull another object into an answer or use it as an
// oracle: include, $inQuery/$notInQuery, $select/$dontSelect, $relatedTo, count, keys.
//
// Must hold: an object whose ACL does not name the caller behaves exactly as if it did not
// exist (101 "Object not found." — never 119, which would confirm it exists), never appears in
// or influences any result, and is byte-for-byte unchanged afterwards (re-read with the master
// key). Another user's _User record and sessions are just as unreachable.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const h = require('./helpers');

const { rest, Parse, NOT_FOUND, rw, ptr, userPtr, signUp, create, masterGet, uniqueClass } = h;

h.useServer();

/** Alice owns a private object; Mallory is the attacker. */
async function scene() {
  const alice = await signUp();
  const mallory = await signUp();
  const C = uniqueClass('Bola');
  const id = await create(C, { secret: 's3cr3t-' + h.rnd(), n: 1, ACL: { [alice.id]: rw } }, { sessionToken: alice.token });
  const before = await masterGet(C, id);
  return { alice, mallory, C, id, before };
}

const attackers = (s) => [
  ['mallory', { sessionToken: s.mallory.token }],
  ['anonymous', {}],
];

test('reading another user\'s object by id: 101 for get, absent from find and count', async () => {
  const s = await scene();
  for (const [who, opts] of attackers(s)) {
    h.expectError(await rest('GET', `/classes/${s.C}/${s.id}`, opts), 404, NOT_FOUND, who);
    const byId = await rest('GET', `/classes/${s.C}`, { ...opts, query: { where: { objectId: s.id } } });
    assert.deepEqual(byId.body, { results: [] }, who);
    const regex = await rest('GET', `/classes/${s.C}`, { ...opts, query: { where: { objectId: { $regex: '.' } } } });
    assert.deepEqual(regex.body, { results: [] }, who);
    const count = await rest('GET', `/classes/${s.C}`, { ...opts, query: { where: { n: 1 }, count: 1, limit: 0 } });
    assert.deepEqual(count.body, { results: [], count: 0 }, who);
    const keys = await rest('GET', `/classes/${s.C}/${s.id}`, { ...opts, query: { keys: 'secret' } });
    h.expectError(keys, 404, NOT_FOUND, `${who} keys`);
  }
  const sdk = await h.sdkError(new Parse.Query(s.C).get(s.id, { sessionToken: s.mallory.token }));
  assert.equal(sdk.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.equal(await new Parse.Query(s.C).count({ sessionToken: s.mallory.token }), 0);
  // the owner does see it: the denial above is about the caller, not a broken object
  assert.equal((await rest('GET', `/classes/${s.C}/${s.id}`, { sessionToken: s.alice.token })).body.secret, s.before.secret);
});

test('updating, deleting or re-ACLing another user\'s object is 101 and changes nothing', async () => {
  const s = await scene();
  const attempts = [
    ['PUT', { n: 999 }],
    ['PUT', { ACL: { '*': rw } }],
    ['PUT', { ACL: { [s.mallory.id]: rw } }],
    ['PUT', { n: { __op: 'Increment', amount: 1000 } }],
    ['PUT', { secret: { __op: 'Delete' } }],
    ['PUT', { tags: { __op: 'AddUnique', objects: ['pwned'] } }],
    ['DELETE', undefined],
  ];
  for (const [who, opts] of attackers(s)) {
    for (const [method, body] of attempts) {
      const r = await rest(method, `/classes/${s.C}/${s.id}`, { ...opts, body });
      h.expectError(r, 404, NOT_FOUND, `${who} ${method} ${JSON.stringify(body)}`);
    }
  }
  assert.deepEqual(await masterGet(s.C, s.id), s.before);
});

test('the SDK: save and destroy of another user\'s object reject with OBJECT_NOT_FOUND', async () => {
  const s = await scene();
  const obj = Parse.Object.extend(s.C).createWithoutData(s.id);
  obj.set('n', 42);
  const saveErr = await h.sdkError(obj.save(null, { sessionToken: s.mallory.token }));
  assert.equal(saveErr.code, Parse.Error.OBJECT_NOT_FOUND);
  const destroyErr = await h.sdkError(
    Parse.Object.extend(s.C).createWithoutData(s.id).destroy({ sessionToken: s.mallory.token })
  );
  assert.equal(destroyErr.code, Parse.Error.OBJECT_NOT_FOUND);
  const all = await h.sdkError(
    Parse.Object.destroyAll([Parse.Object.extend(s.C).createWithoutData(s.id)], { sessionToken: s.mallory.token })
  );
  assert.ok(all, 'destroyAll must fail');
  assert.deepEqual(await masterGet(s.C, s.id), s.before);
});

test('/batch: get, update and delete sub-requests on another user\'s object each fail with 101', async () => {
  const s = await scene();
  const p = `/parse/classes/${s.C}/${s.id}`;
  const r = await rest('POST', '/batch', {
    sessionToken: s.mallory.token,
    body: {
      requests: [
        { method: 'GET', path: p },
        { method: 'PUT', path: p, body: { n: 7 } },
        { method: 'PUT', path: p, body: { ACL: { '*': rw } } },
        { method: 'DELETE', path: p },
        { method: 'GET', path: `/parse/classes/${s.C}`, body: { where: { objectId: s.id } } },
      ],
    },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.slice(0, 4), Array(4).fill({ error: NOT_FOUND }));
  assert.deepEqual(r.body[4], { success: { results: [] } });
  assert.deepEqual(await masterGet(s.C, s.id), s.before);
});

test('/batch with transaction: one forbidden write rolls the whole batch back (500 code 1) and nothing is written', async () => {
  const s = await scene();
  const mine = await create(s.C, { n: 5 }, { sessionToken: s.mallory.token });
  const r = await rest('POST', '/batch', {
    sessionToken: s.mallory.token,
    body: {
      transaction: true,
      requests: [
        { method: 'PUT', path: `/parse/classes/${s.C}/${mine}`, body: { n: 6 } },
        { method: 'DELETE', path: `/parse/classes/${s.C}/${s.id}` },
      ],
    },
  });
  h.expectError(r, 500, h.INTERNAL, 'transactional batch');
  assert.deepEqual(await masterGet(s.C, s.id), s.before);
  assert.equal((await masterGet(s.C, mine)).n, 5, 'the allowed write of the failed transaction was rolled back');
});

test('include of a pointer to another user\'s private object drops it (get, find, include=*)', async () => {
  const s = await scene();
  const P = uniqueClass('BolaParent');
  const parent = await create(P, { ref: ptr(s.C, s.id), note: 'mine' }, { sessionToken: s.mallory.token });
  for (const include of ['ref', '*']) {
    const get = await rest('GET', `/classes/${P}/${parent}`, { sessionToken: s.mallory.token, query: { include } });
    assert.equal(get.status, 200);
    assert.ok(!get.text.includes(s.before.secret), get.text);
    assert.ok(!('ref' in get.body), get.text);
    const find = await rest('GET', `/classes/${P}`, { sessionToken: s.mallory.token, query: { include } });
    assert.equal(find.body.results.length, 1);
    assert.ok(!find.text.includes(s.before.secret), find.text);
  }
  // the pointer itself is Mallory's own data and may come back as a plain pointer
  const plain = await rest('GET', `/classes/${P}/${parent}`, { sessionToken: s.mallory.token });
  assert.deepEqual(plain.body.ref, ptr(s.C, s.id));
});

test('$inQuery / $notInQuery / $select / $dontSelect cannot use another user\'s object as an oracle', async () => {
  const s = await scene();
  const guess = s.before.secret;
  const P = uniqueClass('BolaProbe');
  const byRef = await create(P, { ref: ptr(s.C, s.id), k: guess }, { sessionToken: s.mallory.token });
  const control = await create(P, { ref: ptr(s.C, 'ZZZZZZZZZZ'), k: 'nothing' }, { sessionToken: s.mallory.token });
  const q = (where) => rest('GET', `/classes/${P}`, { sessionToken: s.mallory.token, query: { where } });
  const ids = (r) => r.body.results.map((o) => o.objectId).sort();
  // a right guess and a wrong guess must give the same answer
  for (const secret of [guess, 'wrong-guess']) {
    assert.deepEqual(ids(await q({ ref: { $inQuery: { className: s.C, where: { secret } } } })), [], secret);
    assert.deepEqual(
      ids(await q({ ref: { $notInQuery: { className: s.C, where: { secret } } } })),
      [byRef, control].sort(),
      secret
    );
  }
  assert.deepEqual(ids(await q({ k: { $select: { query: { className: s.C, where: {} }, key: 'secret' } } })), []);
  assert.deepEqual(
    ids(await q({ k: { $dontSelect: { query: { className: s.C, where: {} }, key: 'secret' } } })),
    [byRef, control].sort()
  );
  // dot notation through the pointer does not join into the private object either
  assert.deepEqual(ids(await q({ 'ref.secret': guess })), []);
});

test('$relatedTo through another user\'s private relation holder reveals none of its private members', async () => {
  const s = await scene();
  const R = uniqueClass('BolaHolder');
  const holder = await create(
    R,
    { items: { __op: 'AddRelation', objects: [ptr(s.C, s.id)] }, ACL: { [s.alice.id]: rw } },
    { sessionToken: s.alice.token }
  );
  const r = await rest('GET', `/classes/${s.C}`, {
    sessionToken: s.mallory.token,
    query: { where: { $relatedTo: { object: ptr(R, holder), key: 'items' } } },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { results: [] });
  // adding to or removing from that relation is a write on the holder: 101
  const add = await rest('PUT', `/classes/${R}/${holder}`, {
    sessionToken: s.mallory.token,
    body: { items: { __op: 'RemoveRelation', objects: [ptr(s.C, s.id)] } },
  });
  h.expectError(add, 404, NOT_FOUND);
  const still = await rest('GET', `/classes/${s.C}`, {
    sessionToken: s.alice.token,
    query: { where: { $relatedTo: { object: ptr(R, holder), key: 'items' } } },
  });
  assert.deepEqual(still.body.results.map((o) => o.objectId), [s.id]);
});

test('another user\'s _User record: not readable, not findable, not writable, not deletable', async () => {
  const alice = await signUp({ bio: 'private' });
  const mallory = await signUp();
  const before = await masterGet('_User', alice.id);
  const m = { sessionToken: mallory.token };
  h.expectError(await rest('GET', `/users/${alice.id}`, m), 404, NOT_FOUND);
  h.expectError(await rest('GET', `/classes/_User/${alice.id}`, m), 404, NOT_FOUND);
  const find = await rest('GET', '/users', { ...m, query: { where: { username: alice.username } } });
  assert.deepEqual(find.body, { results: [] });
  const byId = await rest('GET', '/users', { ...m, query: { where: { objectId: alice.id }, count: 1 } });
  assert.deepEqual(byId.body, { results: [], count: 0 });
  for (const body of [{ bio: 'hacked' }, { username: `taken_${h.rnd()}` }, { password: 'new-pw' }, { ACL: { '*': rw } }]) {
    h.expectError(await rest('PUT', `/users/${alice.id}`, { ...m, body }), 400, { code: 206, error: 'Permission denied' });
  }
  h.expectError(await rest('DELETE', `/users/${alice.id}`, m), 400, { code: 206, error: 'Permission denied' });
  const batch = await rest('POST', '/batch', {
    ...m,
    body: {
      requests: [
        { method: 'PUT', path: `/parse/classes/_User/${alice.id}`, body: { bio: 'hacked' } },
        { method: 'DELETE', path: `/parse/classes/_User/${alice.id}` },
      ],
    },
  });
  assert.deepEqual(batch.body, [
    { error: { code: 206, error: 'Permission denied' } },
    { error: { code: 206, error: 'Permission denied' } },
  ]);
  assert.deepEqual(await masterGet('_User', alice.id), before);
  // Alice's password still works: nothing about her account changed
  const login = await rest('POST', '/login', { body: { username: alice.username, password: alice.password } });
  assert.equal(login.status, 200);
});

test('another user\'s sessions: not listed, not readable, not writable, not deletable', async () => {
  const alice = await signUp();
  const mallory = await signUp();
  const aliceSession = (await rest('GET', '/sessions/me', { sessionToken: alice.token })).body;
  const m = { sessionToken: mallory.token };
  const list = await rest('GET', '/sessions', { ...m, query: { where: { user: userPtr(alice.id) } } });
  assert.deepEqual(list.body, { results: [] });
  const viaClasses = await rest('GET', '/classes/_Session', { ...m, query: { where: { objectId: aliceSession.objectId } } });
  assert.deepEqual(viaClasses.body, { results: [] });
  const all = await rest('GET', '/sessions', m);
  assert.ok(all.body.results.every((x) => x.user.objectId === mallory.id), all.text);
  assert.ok(!all.text.includes(alice.token));
  h.expectError(await rest('GET', `/sessions/${aliceSession.objectId}`, m), 404, NOT_FOUND);
  h.expectError(await rest('PUT', `/sessions/${aliceSession.objectId}`, { ...m, body: { note: 'x' } }), 404, NOT_FOUND);
  h.expectError(await rest('DELETE', `/sessions/${aliceSession.objectId}`, m), 404, {
    code: 101,
    error: 'Object not found for delete.',
  });
  h.expectError(await rest('DELETE', `/classes/_Session/${aliceSession.objectId}`, m), 404, {
    code: 101,
    error: 'Object not found for delete.',
  });
  // a session whose user pointer is included never carries the other user either
  const inc = await rest('GET', '/sessions', { ...m, query: { include: 'user' } });
  assert.ok(!inc.text.includes(alice.id), inc.text);
  assert.equal((await rest('GET', '/users/me', { sessionToken: alice.token })).status, 200, 'Alice is still logged in');
});

test('an object shared with a role is invisible to a non-member, directly and through /batch', async () => {
  const member = await signUp();
  const mallory = await signUp();
  const roleName = uniqueClass('Staff');
  const role = await rest('POST', '/roles', {
    master: true,
    body: { name: roleName, ACL: { '*': { read: true } }, users: { __op: 'AddRelation', objects: [userPtr(member.id)] } },
  });
  assert.equal(role.status, 201);
  const C = uniqueClass('BolaRole');
  const id = await create(C, { v: 'staff-only', ACL: { [`role:${roleName}`]: rw } }, { master: true });
  const before = await masterGet(C, id);
  assert.equal((await rest('GET', `/classes/${C}/${id}`, { sessionToken: member.token })).status, 200);
  h.expectError(await rest('GET', `/classes/${C}/${id}`, { sessionToken: mallory.token }), 404, NOT_FOUND);
  h.expectError(await rest('PUT', `/classes/${C}/${id}`, { sessionToken: mallory.token, body: { v: 'x' } }), 404, NOT_FOUND);
  const batch = await rest('POST', '/batch', {
    sessionToken: mallory.token,
    body: { requests: [{ method: 'DELETE', path: `/parse/classes/${C}/${id}` }] },
  });
  assert.deepEqual(batch.body, [{ error: NOT_FOUND }]);
  assert.deepEqual(await masterGet(C, id), before);
});

test('a forged X-Parse-Session-Token or _SessionToken never substitutes for the owner', async () => {
  const s = await scene();
  const forged = [`r:${'0'.repeat(32)}`, s.alice.id, `r:${s.alice.id}`, s.alice.username];
  for (const token of forged) {
    const r = await rest('GET', `/classes/${s.C}/${s.id}`, { sessionToken: token });
    h.expectError(r, 400, h.INVALID_TOKEN, token);
    const tunnelled = await rest('POST', `/classes/${s.C}/${s.id}`, {
      noAuth: true,
      body: JSON.stringify({ _method: 'GET', _ApplicationId: h.ctx.appId, _SessionToken: token }),
    });
    h.expectError(tunnelled, 400, h.INVALID_TOKEN, `tunnelled ${token}`);
  }
  assert.deepEqual(await masterGet(s.C, s.id), s.before);
});
