'use strict';
// OWASP API7:2023 — Server-Side Request Forgery.
//
// A canary HTTP listener on 127.0.0.1 records every connection made to it. Attacks: File
// values whose `url` (or name) points at the canary or at cloud metadata addresses; authData
// for every well-known third-party provider (none is configured here) carrying canary URLs in
// the fields those providers' adapters fetch (issuer, JWKS, introspection, LDAP, Keycloak,
// Apple/Google/Facebook token endpoints); Host / X-Forwarded-* headers trying to make basalt
// emit links to an attacker's host; routes that fetch on Parse Server (hooks, push, files).
//
// Must hold: basalt never connects anywhere a client names — the canary sees nothing; stored
// File urls are always basalt's own (`<server-url>/files/<appId>/<name>`); unconfigured
// providers are refused with 252 "This authentication method is unsupported." and create no
// user; links basalt emits (Location, file urls) use the configured server URL, never a
// request header.
const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const h = require('./helpers');

const { rest, Parse, uniqueClass } = h;

const server = h.useServer();

let trap;
before(async () => {
  trap = await h.canary();
});
after(async () => {
  if (trap) await trap.close();
});

function noHits(what) {
  assert.deepEqual(trap.hits, [], `${what}: basalt connected to the canary`);
}

const UNSUPPORTED = { code: 252, error: 'This authentication method is unsupported.' };

test('a File value\'s url is never trusted: basalt stores and serves its own url, and fetches nothing', async () => {
  const C = uniqueClass('Ssrf');
  const urls = [
    `${trap.url}/steal`,
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_INFO',
  ];
  const own = new URL(server.url);
  for (const url of urls) {
    const created = await rest('POST', `/classes/${C}`, { body: { f: { __type: 'File', name: 'doc.txt', url } } });
    assert.equal(created.status, 201, created.text);
    const got = await rest('GET', `/classes/${C}/${created.body.objectId}`);
    assert.equal(got.body.f.__type, 'File');
    assert.equal(got.body.f.name, 'doc.txt');
    assert.equal(got.body.f.url, `${server.url}/files/${server.appId}/doc.txt`, `${url} was kept: ${got.text}`);
    const put = await rest('PUT', `/classes/${C}/${created.body.objectId}`, { body: { g: { __type: 'File', name: 'x.png', url } } });
    assert.equal(put.status, 200);
    const again = await h.masterGet(C, created.body.objectId);
    assert.equal(new URL(again.g.url).origin, own.origin);
    assert.ok(!JSON.stringify(again).includes(url), JSON.stringify(again));
  }
  // the SDK saving an object that references a remote file
  const obj = new Parse.Object(C);
  obj.set('f', { __type: 'File', name: 'sdk.txt', url: `${trap.url}/sdk` });
  await obj.save();
  const back = await new Parse.Query(C).get(obj.id);
  assert.equal(new URL(back.get('f').url()).origin, own.origin);
  await h.sleep(200);
  noHits('file urls');
});

test('File names that look like urls or paths still yield urls on basalt\'s own origin', async () => {
  const C = uniqueClass('SsrfName');
  const own = new URL(server.url);
  for (const name of [`${trap.url}/x`, '//evil.example/x', '@evil.example', '../../../../etc/passwd', '..%2f..%2fadmin', 'a?b=c#d']) {
    const r = await rest('POST', `/classes/${C}`, { body: { f: { __type: 'File', name } } });
    if (r.status !== 201) {
      assert.equal(r.status, 400, r.text);
      continue;
    }
    const got = await rest('GET', `/classes/${C}/${r.body.objectId}`);
    const u = new URL(got.body.f.url);
    assert.equal(u.origin, own.origin, `${name} -> ${got.body.f.url}`);
  }
  await h.sleep(100);
  noHits('file names');
});

test('authData for providers that are not configured is refused with 252 and nothing is fetched or created', async () => {
  const usersBefore = await h.masterCount('_User');
  const c = trap.url;
  const providers = {
    facebook: { id: '1', access_token: 'x', url: c },
    google: { id: '1', id_token: 'x', access_token: 'y', jwks_uri: `${c}/jwks` },
    apple: { id: '1', token: 'x', jwks_uri: `${c}/jwks` },
    github: { id: '1', access_token: 'x', api_url: c },
    twitter: { id: '1', auth_token: 'x', auth_token_secret: 'y' },
    instagram: { id: '1', access_token: 'x', apiURL: `${c}/` },
    linkedin: { id: '1', access_token: 'x' },
    microsoft: { id: '1', access_token: 'x' },
    oauth2: { id: '1', access_token: 'x', tokenIntrospectionEndpointUrl: `${c}/introspect` },
    ldap: { id: '1', password: 'x', url: `ldap://127.0.0.1:${new URL(c).port}` },
    keycloak: { id: '1', access_token: 'x', roles: [], groups: [], 'auth-server-url': c },
    gcenter: { id: '1', publicKeyUrl: `${c}/key.cer`, timestamp: 1, signature: 'x', salt: 'y', bundleId: 'z' },
    gpgames: { id: '1', access_token: 'x' },
    wechat: { id: '1', access_token: 'x' },
    weibo: { id: '1', access_token: 'x' },
    qq: { id: '1', access_token: 'x' },
    spotify: { id: '1', access_token: 'x' },
    vkontakte: { id: '1', access_token: 'x' },
    line: { id: '1', access_token: 'x' },
    janraincapture: { id: '1', access_token: 'x', janrain_capture_host: c },
    oidc: { id: '1', id_token: 'x', issuer: c, jwks_uri: `${c}/jwks` },
    myCustomProvider: { id: '1', endpoint: c },
  };
  for (const [name, data] of Object.entries(providers)) {
    for (const p of ['/users', '/classes/_User']) {
      const r = await rest('POST', p, { body: { authData: { [name]: data } } });
      h.expectError(r, 400, UNSUPPORTED, `${p} ${name}`);
    }
    const login = await rest('POST', '/users', { body: { username: `p_${h.rnd()}`, password: 'pw', authData: { [name]: data } } });
    h.expectError(login, 400, UNSUPPORTED, `with password ${name}`);
  }
  assert.equal(await h.masterCount('_User'), usersBefore);
  await h.sleep(200);
  noHits('authData providers');
});

test('logging in with an unconfigured provider through the SDK fails and fetches nothing', async () => {
  const usersBefore = await h.masterCount('_User');
  const provider = {
    authenticate: () => Promise.resolve(),
    restoreAuthentication: () => true,
    getAuthType: () => 'myoauth',
    getAuthData: () => ({ authData: { id: 'x', access_token: 'y', url: `${trap.url}/link` } }),
  };
  Parse.User._registerAuthenticationProvider(provider);
  const err = await h.sdkError(Parse.User.logInWith('myoauth', provider.getAuthData()));
  assert.equal(err.code, 252);
  assert.equal(await h.masterCount('_User'), usersBefore);
  await h.sleep(100);
  noHits('SDK logInWith');
});

test('Host and X-Forwarded-* headers do not change the links basalt emits', async () => {
  const C = uniqueClass('SsrfHost');
  const evil = { Host: 'evil.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443', Forwarded: 'host=evil.example;proto=https' };
  const r = await rest('POST', `/classes/${C}`, { headers: evil, body: { f: { __type: 'File', name: 'a.txt' } } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('location'), `${server.url}/classes/${C}/${r.body.objectId}`);
  const got = await rest('GET', `/classes/${C}/${r.body.objectId}`, { headers: evil });
  assert.equal(got.body.f.url, `${server.url}/files/${server.appId}/a.txt`);
  const user = await rest('POST', '/users', { headers: evil, body: { username: `h_${h.rnd()}`, password: 'pw' } });
  assert.equal(user.headers.get('location'), `${server.url}/users/${user.body.objectId}`);
});

test('Parse routes that fetch URLs on Parse Server (hooks, push, file upload) fetch nothing here', async () => {
  const body = { url: `${trap.url}/hook`, functionName: 'x', className: 'X', triggerName: 'beforeSave', where: {}, data: { alert: 'x' } };
  for (const [method, p] of [
    ['POST', '/hooks/functions'],
    ['POST', '/hooks/triggers'],
    ['PUT', '/hooks/functions/x'],
    ['POST', '/push'],
    ['POST', '/files/a.txt'],
    ['POST', '/functions/x'],
    ['POST', '/jobs/x'],
    ['POST', '/validate_purchase'],
  ]) {
    const r = await rest(method, p, { master: true, body });
    assert.ok(r.status >= 400, `${method} ${p}: ${r.status} ${r.text}`);
  }
  await h.sleep(200);
  noHits('fetching routes');
});
