'use strict';
// Social log-in with a real OpenID Connect provider (tests/support/oidc: oidc-provider on
// loopback issuing RS256 id_tokens), linking and unlinking, 208 for an identity another user
// holds, JWKS rotation, and TOTP multi-factor authentication computed with `otpauth` (the
// library Parse Server's own mfa adapter uses). Everything goes through the official SDK
// (Parse.User.logInWith, linkWith, _unlinkFrom, logInWithAdditionalAuth) with REST checks of
// what is stored.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { before, after, afterEach } = require('node:test');
const OTPAuth = require('otpauth');
const { test, startServer, stopServer, rest, parseError, Parse } = require('../helpers/server');
const { startOidc, claimsOf } = require('../helpers/oidc');

const PROVIDER = 'mycorp';
let oidc;

// One hook, in order: basalt's configuration names the provider's address.
before(async () => {
  oidc = await startOidc();
  const providers = {
    [PROVIDER]: { issuer: oidc.issuer, clientId: 'basalt-app', jwksRefetchSeconds: 0 },
    mfa: { enabled: true, options: ['TOTP'] },
  };
  await startServer({ alwaysBasalt: true, env: { PARSE_SERVER_AUTH_PROVIDERS: JSON.stringify(providers) } });
});
after(async () => {
  await stopServer();
  if (oidc) await oidc.stop();
});

Parse.User.enableUnsafeCurrentUser();
afterEach(async () => {
  await Parse.User.logOut().catch(() => {});
});

const rnd = () => crypto.randomBytes(5).toString('hex');

async function authData(sub, tokenOpts) {
  return { id: sub, id_token: await oidc.idToken(sub, tokenOpts) };
}

/** Users whose stored authData names this provider id (master key). */
async function usersWith(sub) {
  const r = await rest('GET', '/classes/_User', {
    master: true,
    query: { where: { [`authData.${PROVIDER}.id`]: sub } },
  });
  assert.equal(r.status, 200, r.text);
  return r.body.results;
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect log-in

test('logInWith an OIDC id_token signs up a new user, then logs the same user in', async () => {
  const sub = `sub-${rnd()}`;

  const first = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });
  const again = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });

  assert.match(first.getSessionToken(), /^r:[0-9a-f]{32}$/);
  assert.equal(first.existed(), false, 'the first log-in creates the user');
  assert.equal(again.id, first.id);
  assert.equal(again.existed(), true);
  assert.notEqual(again.getSessionToken(), first.getSessionToken());
  assert.equal(again._isLinked(PROVIDER), true);
  const stored = await usersWith(sub);
  assert.equal(stored.length, 1);
  assert.deepEqual(stored[0].authData, { [PROVIDER]: { id: sub } }, 'only the id is kept, never the id_token');
  const session = await rest('GET', '/sessions/me', { sessionToken: again.getSessionToken() });
  assert.deepEqual(session.body.createdWith, { action: 'login', authProvider: PROVIDER });
});

test('the provider really signed the token: iss, aud and sub are its own', async () => {
  const sub = `sub-${rnd()}`;
  const token = await oidc.idToken(sub);
  const claims = claimsOf(token);
  const jwks = await oidc.jwks();
  const kid = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid;

  assert.equal(claims.iss, oidc.issuer);
  assert.equal(claims.aud, 'basalt-app');
  assert.equal(claims.sub, sub);
  assert.ok(jwks.keys.some((k) => k.kid === kid), 'signed with a key the JWKS publishes');
});

test('tokens for another audience, expired, forged or for another subject are refused with 101 and create nobody', async () => {
  const sub = `sub-${rnd()}`;
  const good = await oidc.idToken(sub);
  const [header, payload] = good.split('.');
  // Same header (kid) and claims, signed with a key the provider never published.
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forged = `${header}.${payload}.${crypto.sign('sha256', Buffer.from(`${header}.${payload}`), privateKey).toString('base64url')}`;
  const cases = [
    ['wrong audience', { id: sub, id_token: await oidc.idToken(sub, { client: 'other-app' }) }, /audience/],
    ['expired', { id: sub, id_token: await oidc.idToken(sub, { expiresAt: Math.floor(Date.now() / 1000) - 3600 }) }, /jwt expired/],
    ['forged signature', { id: sub, id_token: forged }, /invalid signature/],
    ['another subject', { id: `someone-else-${rnd()}`, id_token: good }, /auth data is invalid/],
    ['no token', { id: sub }, /invalid/],
  ];

  for (const [what, data, message] of cases) {
    const err = await parseError(Parse.User.logInWith(PROVIDER, { authData: data }));
    assert.equal(err.code, Parse.Error.OBJECT_NOT_FOUND, `${what}: ${err.message}`);
    assert.match(err.message, message, what);
  }
  assert.equal((await usersWith(sub)).length, 0);
});

test('after the provider rotates its signing key, new tokens verify and tokens of the retired key do not', async () => {
  const sub = `sub-${rnd()}`;
  const oldToken = await oidc.idToken(sub);
  await Parse.User.logInWith(PROVIDER, { authData: { id: sub, id_token: oldToken } });

  const newKid = await oidc.rotate();
  const fresh = await oidc.idToken(sub);
  const user = await Parse.User.logInWith(PROVIDER, { authData: { id: sub, id_token: fresh } });
  const retired = await parseError(Parse.User.logInWith(PROVIDER, { authData: { id: sub, id_token: oldToken } }));

  assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url').toString()).kid, newKid);
  assert.equal((await usersWith(sub))[0].objectId, user.id);
  assert.equal(retired.code, Parse.Error.OBJECT_NOT_FOUND);
  assert.match(retired.message, /Unable to find matching key/);
});

test('an unconfigured provider is refused with 252', async () => {
  const err = await parseError(Parse.User.logInWith('twitter', { authData: { id: 'x', auth_token: 'y' } }));
  assert.equal(err.code, Parse.Error.UNSUPPORTED_SERVICE);
  assert.equal(err.message, 'This authentication method is unsupported.');
});

// ---------------------------------------------------------------------------------------------
// Linking and unlinking

test('a password user links an OIDC identity, logs in with it, and unlinks it', async () => {
  const sub = `sub-${rnd()}`;
  const user = await Parse.User.signUp(`u_${rnd()}`, 'pw-secret-1');

  await user.linkWith(PROVIDER, { authData: await authData(sub) });
  const viaProvider = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });
  await Parse.User.become(user.getSessionToken());
  const current = Parse.User.current();
  await current._unlinkFrom(PROVIDER);
  const fetched = await rest('GET', `/users/${user.id}`, { master: true });
  const newcomer = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });

  assert.equal(viaProvider.id, user.id, 'the linked identity logs the same user in');
  assert.equal(current._isLinked(PROVIDER), false);
  assert.equal(fetched.body.authData, undefined, `unlinked: ${JSON.stringify(fetched.body.authData)}`);
  assert.notEqual(newcomer.id, user.id, 'once unlinked the identity signs up a new user');
});

test('linking an identity another user holds is refused with 208 and changes nobody', async () => {
  const sub = `sub-${rnd()}`;
  const owner = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });
  await Parse.User.logOut();
  const other = await Parse.User.signUp(`u_${rnd()}`, 'pw-secret-2');

  const err = await parseError(other.linkWith(PROVIDER, { authData: await authData(sub) }));

  assert.equal(err.code, Parse.Error.ACCOUNT_ALREADY_LINKED);
  assert.equal(err.message, 'this auth is already used');
  const holders = await usersWith(sub);
  assert.deepEqual(holders.map((u) => u.objectId), [owner.id]);
});

test('linking needs a valid token: a forged link is 101 and stores nothing', async () => {
  const user = await Parse.User.signUp(`u_${rnd()}`, 'pw-secret-3');
  const sub = `sub-${rnd()}`;

  const err = await parseError(user.linkWith(PROVIDER, { authData: await authData(sub, { client: 'other-app' }) }));

  assert.equal(err.code, Parse.Error.OBJECT_NOT_FOUND);
  const fetched = await rest('GET', `/users/${user.id}`, { master: true });
  assert.equal(fetched.body.authData, undefined);
});

test('an anonymous user upgrades to an OIDC identity: anonymous is unlinked in the same save', async () => {
  const anon = await Parse.AnonymousUtils.logIn();
  const sub = `sub-${rnd()}`;

  await anon.linkWith(PROVIDER, { authData: await authData(sub) });

  const fetched = await rest('GET', `/users/${anon.id}`, { master: true });
  assert.deepEqual(fetched.body.authData, { [PROVIDER]: { id: sub } });
});

test('other users never see a user\'s authData', async () => {
  const sub = `sub-${rnd()}`;
  const linked = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });
  await rest('PUT', `/users/${linked.id}`, { master: true, body: { ACL: { '*': { read: true } } } });
  await Parse.User.logOut();
  const other = await Parse.User.signUp(`u_${rnd()}`, 'pw-secret-4');

  const seen = await rest('GET', `/users/${linked.id}`, { sessionToken: other.getSessionToken() });
  const probe = await rest('GET', '/users', { sessionToken: other.getSessionToken(), query: { where: { [`authData.${PROVIDER}.id`]: sub } } });

  assert.equal(seen.status, 200, seen.text);
  assert.equal(seen.body.authData, undefined);
  assert.equal(probe.status, 400, 'querying by another user\'s identity is refused');
});

// ---------------------------------------------------------------------------------------------
// TOTP multi-factor authentication

function newTotp() {
  const secret = new OTPAuth.Secret({ size: 20 });
  return { secret: secret.base32, totp: new OTPAuth.TOTP({ secret, digits: 6, period: 30, algorithm: 'SHA1' }) };
}

/** A code for `stepsAhead` 30-second steps from now (the server accepts one step either side). */
const codeAt = (totp, stepsAhead = 0) => totp.generate({ timestamp: Date.now() + stepsAhead * 30000 });

async function enrolledUser() {
  const username = `mfa_${rnd()}`;
  const password = 'pw-mfa-secret';
  const user = await Parse.User.signUp(username, password);
  const { secret, totp } = newTotp();
  await user.save({ authData: { mfa: { secret, token: codeAt(totp) } } });
  return { user, username, password, secret, totp, recovery: user.get('authDataResponse').mfa.recovery.split(', ') };
}

test('MFA enrolment returns two recovery codes once and reads back as {status: "enabled"}', async () => {
  const { user, secret, recovery } = await enrolledUser();

  const me = await rest('GET', '/users/me', { sessionToken: user.getSessionToken() });
  const asMaster = await rest('GET', `/users/${user.id}`, { master: true });

  assert.equal(recovery.length, 2);
  assert.notEqual(recovery[0], recovery[1]);
  assert.deepEqual(me.body.authData, { mfa: { status: 'enabled' } });
  assert.deepEqual(asMaster.body.authData, { mfa: { status: 'enabled' } });
  for (const text of [me.text, asMaster.text]) {
    assert.ok(!text.includes(secret), 'the TOTP secret never leaves the server');
    assert.ok(!text.includes(recovery[0]), 'nor do the recovery codes');
  }
});

test('MFA enrolment needs a current code for the secret (141) and a secret of at least 20 characters', async () => {
  const user = await Parse.User.signUp(`mfa_${rnd()}`, 'pw-mfa-secret');
  const { secret, totp } = newTotp();

  const wrong = await parseError(user.save({ authData: { mfa: { secret, token: codeAt(totp, 4) } } }));
  const short = await parseError(user.save({ authData: { mfa: { secret: 'JBSWY3DPEHPK3PXP', token: '123456' } } }));

  assert.deepEqual([wrong.code, wrong.message], [Parse.Error.SCRIPT_FAILED, 'Invalid MFA token']);
  assert.deepEqual([short.code, short.message], [Parse.Error.SCRIPT_FAILED, 'Invalid MFA data']);
  const stored = await rest('GET', `/users/${user.id}`, { master: true });
  assert.equal(stored.body.authData, undefined, 'a refused enrolment stores nothing');
});

test('an enrolled user needs the code to log in: missing is -1, wrong is 141, right logs in', async () => {
  const { user, username, password, totp } = await enrolledUser();
  await Parse.User.logOut();

  const missing = await parseError(Parse.User.logIn(username, password));
  const wrong = await parseError(Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: codeAt(totp, 5) } }));
  const loggedIn = await Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: codeAt(totp, 1) } });

  assert.deepEqual([missing.code, missing.message], [Parse.Error.OTHER_CAUSE, 'Missing additional authData mfa']);
  assert.deepEqual([wrong.code, wrong.message], [Parse.Error.SCRIPT_FAILED, 'Invalid MFA token']);
  assert.equal(loggedIn.id, user.id);
  assert.match(loggedIn.getSessionToken(), /^r:/);
});

test('a TOTP code logs in once; replaying it is refused', async () => {
  const { username, password, totp } = await enrolledUser();
  await Parse.User.logOut();
  const token = codeAt(totp, 1);

  await Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token } });
  await Parse.User.logOut();
  const replay = await parseError(Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token } }));

  assert.equal(replay.code, Parse.Error.SCRIPT_FAILED);
});

test('each recovery code logs in exactly once', async () => {
  const { user, username, password, recovery } = await enrolledUser();
  await Parse.User.logOut();

  const first = await Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: recovery[0] } });
  await Parse.User.logOut();
  const reused = await parseError(Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: recovery[0] } }));
  const second = await Parse.User.logInWithAdditionalAuth(username, password, { mfa: { token: recovery[1] } });

  assert.equal(first.id, user.id);
  assert.equal(reused.code, Parse.Error.SCRIPT_FAILED);
  assert.equal(second.id, user.id);
});

test('concurrent log-ins with one recovery code: exactly one succeeds', async () => {
  const { username, password, recovery } = await enrolledUser();
  await Parse.User.logOut();
  const body = { username, password, authData: { mfa: { token: recovery[0] } } };

  const results = await Promise.all(Array.from({ length: 5 }, () => rest('POST', '/login', { body })));

  assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400, 400, 400], JSON.stringify(results.map((r) => r.body)));
});

test('MFA is turned off only with a current code; afterwards the password alone logs in', async () => {
  const { user, username, password, totp } = await enrolledUser();

  const withoutCode = await rest('PUT', `/users/${user.id}`, { sessionToken: user.getSessionToken(), body: { authData: { mfa: null } } });
  const off = await rest('PUT', `/users/${user.id}`, { sessionToken: user.getSessionToken(), body: { authData: { mfa: { old: codeAt(totp) } } } });
  await Parse.User.logOut();
  const plain = await Parse.User.logIn(username, password);

  assert.equal(withoutCode.status, 400);
  assert.equal(withoutCode.body.code, Parse.Error.SCRIPT_FAILED);
  assert.equal(off.status, 200, off.text);
  assert.equal(plain.id, user.id);
  assert.equal((await rest('GET', `/users/${user.id}`, { master: true })).body.authData, undefined);
});

test('an OIDC log-in of an enrolled user also needs the TOTP code', async () => {
  const sub = `sub-${rnd()}`;
  const user = await Parse.User.logInWith(PROVIDER, { authData: await authData(sub) });
  const { secret, totp } = newTotp();
  await user.save({ authData: { mfa: { secret, token: codeAt(totp) } } });
  await Parse.User.logOut();

  const missing = await rest('POST', '/users', { body: { authData: { [PROVIDER]: await authData(sub) } } });
  const withCode = await rest('POST', '/users', { body: { authData: { [PROVIDER]: await authData(sub), mfa: { token: codeAt(totp, 1) } } } });

  assert.deepEqual(missing.body, { code: -1, error: 'Missing additional authData mfa' });
  assert.equal(withCode.status, 200, withCode.text);
  assert.equal(withCode.body.objectId, user.id);
  assert.match(withCode.body.sessionToken, /^r:/);
});
