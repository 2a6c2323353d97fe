'use strict';
// Starts the real OpenID Connect provider of tests/support/oidc (panva/oidc-provider, pinned in
// its own lockfile) on a free loopback port and fetches real signed id_tokens from it.
//
//   const oidc = await startOidc();        // { issuer, idToken(sub, opts), rotate(), stop() }
//   const token = await oidc.idToken('user-1');                       // aud = basalt-app
//   await oidc.idToken('user-1', { client: 'other-app' });            // aud = other-app
//   await oidc.idToken('user-1', { expiresAt: unixSeconds });         // any exp, past included

const { spawn } = require('node:child_process');
const path = require('node:path');

const SUPPORT_DIR = path.resolve(__dirname, '..', '..', 'support', 'oidc');
const GRANT = 'urn:basalt:test:id-token';

function waitForLine(child, re, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`OIDC provider did not start: ${out} ${err}`)), timeoutMs);
    child.stderr.on('data', (c) => { err += c; });
    child.stdout.on('data', (c) => {
      out += c;
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`OIDC provider exited (${code}); run npm ci in ${SUPPORT_DIR}\n${err}`));
    });
  });
}

async function startOidc() {
  const child = spawn(process.execPath, [path.join(SUPPORT_DIR, 'provider.mjs')], {
    cwd: SUPPORT_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const issuer = await waitForLine(child, /listening on (\S+)/);
  child.stdout.resume();

  async function idToken(sub, { client = 'basalt-app', expiresAt } = {}) {
    const form = new URLSearchParams({ grant_type: GRANT, sub });
    if (expiresAt !== undefined) form.set('expires_at', String(expiresAt));
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`,
      },
      body: form,
    });
    const body = await res.json();
    if (!res.ok || !body.id_token) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
    return body.id_token;
  }

  async function rotate() {
    const res = await fetch(`${issuer}/_test/rotate`, { method: 'POST' });
    return (await res.json()).kid;
  }

  async function jwks() {
    return (await fetch(`${issuer}/jwks`)).json();
  }

  async function stop() {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  return { issuer, idToken, rotate, jwks, stop };
}

/** The claims of a JWT (no verification: for test assertions only). */
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

module.exports = { startOidc, claimsOf };
