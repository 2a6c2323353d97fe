'use strict';
// OWASP API6:2023 (Unrestricted Access to Sensitive Business Flows) and API2:2023 (Broken
// Authentication — brute force): throttling. Kept apart from the apiN modules because it needs
// rate limiting, which basalt is only gaining now: these tests say what must hold once it does.
//
// Wire contract (Parse Server 9.10 `rateLimit`, src/middlewares.js handleRateLimit): over the
// limit the answer is HTTP 429 {"code":100,"error":"Too many requests."} (the message is the
// rule's errorResponseMessage), with a Retry-After header in seconds; /batch sub-requests count
// against the rules of their own paths (a whole batch over the limit is refused with code 100).
// basalt's own addition: a limit per client address on the identity routes (log-in, sign-up,
// /verifyPassword, e-mail requests), 300 per 60 s by default, set with --auth-rate-limit /
// BASALT_AUTH_RATE_LIMIT ("N/SECONDSs" or "off"); Parse rules come from --rate-limit /
// PARSE_SERVER_RATE_LIMIT (JSON). Both are configured here through the environment only, so an
// older basalt still starts (and these tests then fail instead of crashing).
//
// Attacks: password brute force on one account (with X-Forwarded-For rotation to look like many
// clients), credential stuffing over many usernames, /verifyPassword brute force, sign-up
// flooding directly and through /batch, flooding a class protected by a Parse rateLimit rule.
// Must hold: after the limit every further attempt — including one with the right password —
// is 429 code 100 with Retry-After, and flooding creates at most `limit` accounts or objects.
const assert = require('node:assert/strict');
const { test } = require('node:test');
const h = require('./helpers');

const { signUp, uniqueClass } = h;

const TOO_MANY = { code: 100, error: 'Too many requests.' };

function isThrottled(r) {
  return r.status === 429;
}

function assertThrottled(r, what) {
  assert.equal(r.status, 429, `${what}: ${r.status} ${r.text}`);
  assert.deepEqual(r.body, TOO_MANY, `${what}: ${r.text}`);
  const retry = r.headers.get('retry-after');
  assert.ok(retry !== null, `${what}: no Retry-After header`);
  assert.match(retry, /^\d+$/, `${what}: Retry-After ${retry}`);
  assert.ok(Number(retry) >= 1 && Number(retry) <= 60, `${what}: Retry-After ${retry}`);
}

/** A private basalt with a tight identity-route limit: 10 per 60 s per client address. */
async function tight(env = {}) {
  return h.spawnBasalt({ env: { BASALT_AUTH_RATE_LIMIT: '10/60s', ...env } });
}

test('password brute force on one account is throttled, and the right password is refused while throttled', async () => {
  const s = await tight();
  try {
    const victim = await signUp({}, s.rest);
    const answers = [];
    for (let i = 0; i < 14; i += 1) {
      answers.push(
        await s.rest('POST', '/login', {
          headers: { 'X-Forwarded-For': `203.0.113.${i}`, 'X-Real-IP': `203.0.113.${i}` },
          body: { username: victim.username, password: `guess-${i}` },
        })
      );
    }
    const throttled = answers.filter(isThrottled);
    assert.ok(throttled.length >= 3, `statuses: ${answers.map((r) => r.status).join(',')}`);
    assertThrottled(throttled[0], 'brute force');
    const firstThrottled = answers.findIndex(isThrottled);
    assert.ok(answers.slice(firstThrottled).every(isThrottled), 'once throttled, every attempt stays throttled');
    const right = await s.rest('POST', '/login', { body: { username: victim.username, password: victim.password } });
    assertThrottled(right, 'the right password while throttled');
    assert.equal(right.body.sessionToken, undefined);
    const getLogin = await s.rest('GET', '/login', { query: { username: victim.username, password: victim.password } });
    assertThrottled(getLogin, 'GET /login while throttled');
  } finally {
    await s.stop();
  }
});

test('the default configuration throttles credential stuffing on /login (300 per minute per address)', async () => {
  const s = await h.spawnBasalt();
  try {
    let first = null;
    const sent = 330;
    for (let i = 0; i < sent; i += 1) {
      const r = await s.rest('POST', '/login', { body: { username: `nobody_${i}_${h.rnd(2)}`, password: 'Summer2024!' } });
      if (isThrottled(r)) {
        first = { i, r };
        break;
      }
    }
    assert.ok(first, `${sent} log-in attempts from one address in a few seconds were all answered`);
    assert.ok(first.i >= 300 && first.i <= 305, `throttled after ${first.i} attempts`);
    assertThrottled(first.r, 'credential stuffing');
  } finally {
    await s.stop();
  }
});

test('/verifyPassword brute force is throttled too', async () => {
  const s = await tight();
  try {
    const victim = await signUp({}, s.rest);
    const answers = [];
    for (let i = 0; i < 13; i += 1) {
      answers.push(await s.rest('POST', '/verifyPassword', { body: { username: victim.username, password: `guess-${i}` } }));
    }
    const throttled = answers.filter(isThrottled);
    assert.ok(throttled.length >= 2, `statuses: ${answers.map((r) => r.status).join(',')}`);
    assertThrottled(throttled[0], '/verifyPassword');
  } finally {
    await s.stop();
  }
});

test('sign-up flooding is throttled and creates at most the limit of accounts', async () => {
  const s = await tight();
  try {
    const answers = [];
    for (let i = 0; i < 14; i += 1) {
      answers.push(await s.rest('POST', '/users', { body: { username: `flood_${i}_${h.rnd(2)}`, password: 'pw' } }));
    }
    const throttled = answers.filter(isThrottled);
    assert.ok(throttled.length >= 3, `statuses: ${answers.map((r) => r.status).join(',')}`);
    assertThrottled(throttled[0], 'sign-up flood');
    assert.ok((await h.masterCount('_User', {}, s.rest)) <= 10);
    // anonymous sign-ups are sign-ups
    const anon = await s.rest('POST', '/users', { body: { authData: { anonymous: { id: `a-${h.rnd()}` } } } });
    assertThrottled(anon, 'anonymous sign-up');
  } finally {
    await s.stop();
  }
});

test('sign-ups smuggled through /batch count against the same limit', async () => {
  const s = await tight({ PARSE_SERVER_BATCH_REQUEST_LIMIT: '50' });
  try {
    const requests = Array.from({ length: 30 }, (_, i) => ({
      method: 'POST',
      path: '/parse/classes/_User',
      body: { username: `batch_${i}_${h.rnd(2)}`, password: 'pw' },
    }));
    const r = await s.rest('POST', '/batch', { body: { requests } });
    const refusedWhole = r.status === 429 || (r.status === 400 && r.body.code === 100);
    const refusedItems = Array.isArray(r.body) && r.body.some((x) => x.error && x.error.code === 100);
    assert.ok(refusedWhole || refusedItems, `the batch ran unthrottled: ${r.status} ${r.text.slice(0, 200)}`);
    const created = await h.masterCount('_User', {}, s.rest);
    assert.ok(created <= 10, `${created} accounts were created through one batch`);
  } finally {
    await s.stop();
  }
});

test('a Parse rateLimit rule (PARSE_SERVER_RATE_LIMIT) throttles object creation; the master key is exempt', async () => {
  const rule = [{ requestPath: '/classes/*', requestTimeWindow: 60000, requestCount: 3, requestMethods: 'POST' }];
  const s = await h.spawnBasalt({ env: { PARSE_SERVER_RATE_LIMIT: JSON.stringify(rule) } });
  try {
    const C = uniqueClass('Spam');
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await s.rest('POST', `/classes/${C}`, { body: { i } }));
    assert.deepEqual(
      answers.map((r) => r.status),
      [201, 201, 201, 429, 429, 429]
    );
    assertThrottled(answers[3], 'rateLimit rule');
    assert.equal(await h.masterCount(C, {}, s.rest), 3);
    // reads are not covered by the rule; the master key is not limited
    assert.equal((await s.rest('GET', `/classes/${C}`)).status, 200);
    assert.equal((await s.rest('POST', `/classes/${C}`, { master: true, body: { i: 99 } })).status, 201);
    // and /batch sub-requests to the covered path are counted
    const batch = await s.rest('POST', '/batch', { body: { requests: [{ method: 'POST', path: `/parse/classes/${C}`, body: { i: 7 } }] } });
    assert.ok(batch.status === 429 || batch.body.code === 100 || (Array.isArray(batch.body) && batch.body[0].error), batch.text);
    assert.equal(await h.masterCount(C, {}, s.rest), 4);
  } finally {
    await s.stop();
  }
});
