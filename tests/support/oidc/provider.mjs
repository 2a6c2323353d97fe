// A real OpenID Connect provider (panva/oidc-provider) on 127.0.0.1 for the social log-in tests.
//
//   node provider.mjs [--port N]      prints `listening on http://127.0.0.1:PORT` once ready
//
// It serves discovery (/.well-known/openid-configuration), its JWKS (/jwks) and the token
// endpoint (/token) as oidc-provider does. Tests obtain real signed id_tokens without a browser
// through one extra grant type at the token endpoint:
//
//   POST /token  grant_type=urn:basalt:test:id-token  sub=<user id>  [expires_at=<unix seconds>]
//   (client authentication as usual: client_secret_basic or client_secret_post)
//   -> {"id_token": "<RS256 JWT signed with the provider's current key>", "token_type": "Bearer"}
//
// Two clients are registered: `basalt-app` and `other-app` (secret: `<client id>-secret`), so
// tests can get tokens for the wrong audience. `POST /_test/rotate` replaces the signing key
// (the old key leaves the JWKS) and answers {kid}; tokens issued afterwards carry the new kid.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';

const GRANT = 'urn:basalt:test:id-token';
const CLIENT_IDS = ['basalt-app', 'other-app'];

function parsePort() {
  const i = process.argv.indexOf('--port');
  return i > 0 ? Number(process.argv[i + 1]) : 0;
}

function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `k-${crypto.randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

// The custom grant: the client is authenticated by oidc-provider before this runs, so the
// token's audience is the calling client, exactly as for the authorization code flow.
async function issueIdToken(ctx) {
  const { params, client, provider } = ctx.oidc;
  const sub = params.sub;
  if (!sub) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'sub is required' };
    return;
  }
  const token = new provider.IdToken({ sub }, { ctx, client });
  token.scope = 'openid';
  const expiresAt = params.expires_at ? Number(params.expires_at) : null;
  const idToken = await token.issue({ use: 'idtoken', expiresAt });
  ctx.body = { id_token: idToken, token_type: 'Bearer' };
}

function buildProvider(issuer, key) {
  const provider = new Provider(issuer, {
    clients: CLIENT_IDS.map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: [GRANT],
      response_types: [],
      redirect_uris: [],
    })),
    jwks: { keys: [key] },
    features: { devInteractions: { enabled: false } },
    ttl: { IdToken: 600 },
  });
  provider.registerGrantType(GRANT, issueIdToken, ['sub', 'expires_at']);
  provider.on('server_error', (_ctx, err) => process.stderr.write(`oidc-provider: ${err.stack}\n`));
  return provider;
}

const server = http.createServer();
let key = newSigningKey();
let provider;

server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/_test/rotate') {
    key = newSigningKey();
    provider = buildProvider(provider.issuer, key);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: key.kid }));
    return;
  }
  provider.callback()(req, res);
});

server.listen(parsePort(), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = buildProvider(issuer, key);
  process.stdout.write(`listening on ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
