// A real OpenID Provider (panva's oidc-provider) for the Rust integration tests
// of "sign in with a provider". Test-only: it listens on 127.0.0.1 only, keeps
// everything in memory and has a hook to tamper with the next ID token.
//
// Usage: OIDC_REDIRECT_URIS=uri1,uri2 node users-axum/tests/oidc/provider.mjs
//
// Protocol with the parent process:
// - stdout carries exactly one line, `ready http://127.0.0.1:PORT`, once listening;
// - everything else (warnings, errors) goes to stderr;
// - the process exits when its stdin closes (parent gone) or on SIGTERM/SIGINT.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { format } from 'node:util';

import * as jose from 'jose';

// oidc-provider prints notices with console.info, which goes to stdout; stdout
// is reserved for the `ready` line, so route console.log/info to stderr and
// drop the notices that are expected for a throwaway in-memory test provider.
const QUIET = [
  'oidc-provider NOTICE: default ',
  'oidc-provider WARNING: a quick start development-only in-memory adapter is used',
  'oidc-provider WARNING: Unsupported runtime.',
];
function toStderr(...args) {
  const line = format(...args);
  if (!QUIET.some((prefix) => line.startsWith(prefix))) {
    process.stderr.write(`${line}\n`);
  }
}
console.log = toStderr;
console.info = toStderr;
console.warn = toStderr;
console.debug = toStderr;

// Imported after the console is redirected (it may warn while loading).
const { default: Provider } = await import('oidc-provider');

// ---------------------------------------------------------------------------
// Lifetime: exit when stdin closes (the parent died or dropped us) or on signals.

function shutdown() {
  process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// ---------------------------------------------------------------------------
// Configuration from the environment.

const redirectUris = (process.env.OIDC_REDIRECT_URIS ?? '')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);
if (redirectUris.length === 0) {
  console.error('provider.mjs: OIDC_REDIRECT_URIS must list at least one redirect URI (comma-separated)');
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Signing key: a fresh RS256 key pair; the private half also re-signs tampered ID tokens.

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const privateJwk = await jose.exportJWK(privateKey);
privateJwk.kid = `test-${(await jose.calculateJwkThumbprint(privateJwk)).slice(0, 16)}`;
privateJwk.alg = 'RS256';
privateJwk.use = 'sig';

// ---------------------------------------------------------------------------
// Accounts: any login string is an account, accountId = the login string.

/** The email facts of an account id: `{ email, verified }`, or `null` for `noemail:` logins. */
function emailOf(accountId) {
  if (accountId.startsWith('noemail:')) return null;
  if (accountId.startsWith('unverified:')) {
    return { email: accountId.slice('unverified:'.length), verified: false };
  }
  return { email: accountId, verified: true };
}

/** A stable positive integer id per account id (for the GitHub-shaped API). */
function numericIdOf(accountId) {
  return createHash('sha256').update(accountId).digest().readUIntBE(0, 6) + 1;
}

async function findAccount(_ctx, accountId) {
  return {
    accountId,
    async claims() {
      const claims = { sub: accountId, name: accountId };
      const email = emailOf(accountId);
      if (email) {
        claims.email = email.email;
        claims.email_verified = email.verified;
      }
      return claims;
    },
  };
}

// ---------------------------------------------------------------------------
// Consent is never asked: the grant always covers what the request asks for.

async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  const { accountId } = oidc.account;
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId) {
    grant = new oidc.provider.Grant({
      accountId,
      clientId: oidc.client.clientId,
    });
  }
  // `requestParamOIDCScopes` is the requested scopes that are in the `scopes`
  // configuration below: the OIDC ones and the GitHub-style ones alike.
  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  // Resource-server scopes (none unless resource indicators get configured).
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers)) {
    const wanted = [...oidc.requestParamScopes].filter((s) => resourceServer.scopes.has(s));
    if (wanted.length) grant.addResourceScope(indicator, wanted.join(' '));
  }
  await grant.save();
  return grant;
}

// ---------------------------------------------------------------------------
// Listen first (ephemeral port), then build the provider with the real issuer.

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const client = (clientId, clientSecret) => ({
  client_id: clientId,
  client_secret: clientSecret,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: redirectUris,
});

const provider = new Provider(issuer, {
  clients: [client('users-app', 'users-app-secret'), client('other-app', 'other-app-secret')],
  jwks: { keys: [privateJwk] },
  findAccount,
  loadExistingGrant,
  scopes: ['openid', 'email', 'profile', 'offline_access', 'read:user', 'user:email'],
  claims: {
    acr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Put the scope-requested claims (email, email_verified, name) in the ID token itself.
  conformIdTokenClaims: false,
  // PKCE for every client; oidc-provider 9 only supports S256.
  pkce: { required: () => true },
  cookies: {
    keys: ['users-oidc-test-cookie-key-1', 'users-oidc-test-cookie-key-2'],
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    revocation: { enabled: true },
  },
  renderError(ctx, out, _error) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${out.error}: ${out.error_description ?? ''}\n`;
  },
});

provider.on('server_error', (_ctx, err) => console.error('provider.mjs server_error:', err));

// ---------------------------------------------------------------------------
// Small helpers for our own routes.

async function readBody(ctx, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > limit) ctx.throw(413, 'body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isLoopback(ctx) {
  const address = ctx.req.socket.remoteAddress ?? '';
  return address === '127.0.0.1' || address === '::1' || address.startsWith('::ffff:127.') || address.startsWith('127.');
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function badCredentials(ctx) {
  ctx.status = 401;
  ctx.body = { message: 'Bad credentials' };
}

async function accessTokenAccount(ctx) {
  // `Bearer` as asked; GitHub's own `token` scheme is accepted too.
  const match = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
  if (!match) return undefined;
  const token = await provider.AccessToken.find(match[1]);
  if (!token || token.isExpired || !token.accountId) return undefined;
  return token.accountId;
}

/** Grants whatever the consent prompt says is missing and resumes the authorization. */
async function finishConsent(ctx, details) {
  const { params, session, grantId, prompt } = details;
  let grant = grantId ? await provider.Grant.find(grantId) : undefined;
  if (!grant) {
    grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  }
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const consentGrantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId: consentGrantId } }, {
    mergeWithLastSubmission: true,
  });
  ctx.respond = false;
}

/** Claim overrides for the next ID token the token endpoint issues (one-shot). */
let pendingTamper = null;

async function resign(idToken, overrides) {
  const header = jose.decodeProtectedHeader(idToken);
  const payload = { ...jose.decodeJwt(idToken), ...overrides };
  return new jose.SignJWT(payload).setProtectedHeader(header).sign(privateKey);
}

// ---------------------------------------------------------------------------
// Our routes (interactions, tamper hook, GitHub-shaped API) and the token post-processor.

provider.use(async (ctx, next) => {
  const { path, method } = ctx;

  let m = /^\/interaction\/([^/]+)$/.exec(path);
  if (m && method === 'GET') {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'consent') {
      // Only reached when the request itself says prompt=consent (which OIDC
      // requires for offline_access): consent is granted without a page.
      await finishConsent(ctx, details);
      return;
    }
    if (details.prompt.name !== 'login') {
      console.error(`provider.mjs: unexpected ${details.prompt.name} prompt`, details.prompt);
      ctx.status = 500;
      ctx.body = `unexpected prompt ${details.prompt.name}\n`;
      return;
    }
    const uid = escapeHtml(details.uid);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = `<!doctype html><html><head><title>Sign in</title></head><body>`
      + `<form method="post" action="/interaction/${uid}/login">`
      + `<input name="login"><button>Sign in</button></form></body></html>\n`;
    return;
  }

  m = /^\/interaction\/([^/]+)\/login$/.exec(path);
  if (m && method === 'POST') {
    const login = new URLSearchParams(await readBody(ctx)).get('login');
    if (!login) {
      ctx.status = 400;
      ctx.body = 'missing login\n';
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, {
      mergeWithLastSubmission: false,
    });
    ctx.respond = false;
    return;
  }

  if (path === '/__test/tamper' && method === 'POST') {
    if (!isLoopback(ctx)) ctx.throw(403, 'loopback only');
    let claims;
    try {
      claims = JSON.parse(await readBody(ctx));
    } catch {
      ctx.throw(400, 'body must be JSON');
    }
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) {
      ctx.throw(400, 'body must be a JSON object of claims');
    }
    pendingTamper = claims;
    ctx.status = 204;
    return;
  }

  if (path === '/github/user' && method === 'GET') {
    const accountId = await accessTokenAccount(ctx);
    if (!accountId) return badCredentials(ctx);
    ctx.body = { id: numericIdOf(accountId), login: accountId, email: emailOf(accountId)?.email ?? null };
    return;
  }

  if (path === '/github/user/emails' && method === 'GET') {
    const accountId = await accessTokenAccount(ctx);
    if (!accountId) return badCredentials(ctx);
    const email = emailOf(accountId);
    ctx.body = email
      ? [{ email: email.email, primary: true, verified: email.verified, visibility: 'public' }]
      : [];
    return;
  }

  await next();

  if (
    pendingTamper
    && path === '/token'
    && ctx.status === 200
    && ctx.body
    && typeof ctx.body === 'object'
    && typeof ctx.body.id_token === 'string'
  ) {
    const overrides = pendingTamper;
    pendingTamper = null;
    ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token, overrides) };
  }
});

server.on('request', provider.callback());
process.stdout.write(`ready ${issuer}\n`);
