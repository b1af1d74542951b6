import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeSession, encodeSession, sessionSigningKey, trustProxySetting } from '../src/auth/session';
import { ADMIN_KEY, send, startTestApi, type TestApi } from './harness';

let api: TestApi;
let dist: string;
before(async () => {
  dist = mkdtempSync(join(tmpdir(), 'gd-web-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Glassdome</title><div id="root"></div>');
  writeFileSync(join(dist, 'assets', 'app-abc123.js'), 'console.log(1)');
  api = await startTestApi('web_session', {
    deps: { secretKey: 'a-test-secret-key-that-is-long-enough-0123456789', sessionSeconds: 3600, webDistDir: dist },
  });
});
after(async () => {
  await api.close();
  rmSync(dist, { recursive: true, force: true });
});

/** Signs in with `key` and answers the cookie pair to send back (`gd_session=…`). */
async function signIn(key: string): Promise<{ cookie: string; setCookie: string; body: Record<string, unknown> }> {
  const answer = await api.request('POST', '/api/v1/session', { key: null, body: { apiKey: key } });
  assert.equal(answer.status, 201, answer.text);
  const setCookie = answer.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, setCookie, body: answer.body };
}

test('sign-in exchanges a key for an HttpOnly SameSite=Strict cookie that holds no key', async () => {
  const { cookie, setCookie, body } = await signIn(ADMIN_KEY);
  assert.match(setCookie, /^gd_session=[A-Za-z0-9_.-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/);
  assert.ok(!setCookie.includes(ADMIN_KEY), 'the key is not in the cookie');
  assert.equal(body.role, 'admin');
  assert.ok(Date.parse(String(body.expiresAt)) > Date.now() + 3500_000);
  assert.ok(!JSON.stringify(body).includes(ADMIN_KEY), 'the key is not echoed');

  const me = await api.request('GET', '/api/v1/session', { key: null, headers: { cookie } });
  assert.equal(me.status, 200);
  assert.equal(me.body.role, 'admin');
  assert.equal((await api.request('GET', '/api/v1/labs', { key: null, headers: { cookie } })).status, 200);
});

test('a wrong key is 401 and sets no cookie; a body without the key names the field', async () => {
  const wrong = await api.request('POST', '/api/v1/session', { key: null, body: { apiKey: 'gd_nope' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('set-cookie'), null);
  const missing = await api.request('POST', '/api/v1/session', { key: null, body: {} });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.details[0].path, 'apiKey');
});

test('mutations with a cookie need a JSON body or the X-Requested-With header (CSRF)', async () => {
  const operator = await api.keyWithRole('operator');
  const { cookie } = await signIn(operator);
  const id = '00000000-0000-4000-8000-000000000000';
  const bare = await api.request('POST', `/api/v1/labs/${id}/cancel`, { key: null, headers: { cookie } });
  assert.equal(bare.status, 403);
  assert.equal(bare.body.error.code, 'csrf');
  const form = await api.request('POST', '/api/v1/vms', {
    key: null,
    raw: 'name=x&os=ubuntu-22.04',
    contentType: 'application/x-www-form-urlencoded',
    headers: { cookie },
  });
  assert.equal(form.status, 403);
  const withHeader = await api.request('POST', `/api/v1/labs/${id}/cancel`, {
    key: null,
    headers: { cookie, 'x-requested-with': 'glassdome-web' },
  });
  assert.equal(withHeader.status, 404, 'past the CSRF check: the lab does not exist');
});

test('a viewer session reads and is refused every mutation', async () => {
  const viewer = await api.keyWithRole('viewer');
  const { cookie } = await signIn(viewer);
  const headers = { cookie, 'x-requested-with': 'glassdome-web' };
  assert.equal((await api.request('GET', '/api/v1/vms', { key: null, headers })).status, 200);
  const deploy = await api.request('POST', '/api/v1/vms', { key: null, headers, body: { name: 'v', os: 'kali' } });
  assert.equal(deploy.status, 403);
  assert.equal(deploy.body.error.code, 'forbidden');
});

test('sign-out ends the session for good; a revoked key ends its sessions; a forged cookie is refused', async () => {
  const operator = await api.keyWithRole('operator');
  const { cookie } = await signIn(operator);
  const out = await api.request('DELETE', '/api/v1/session', {
    key: null,
    headers: { cookie, 'x-requested-with': 'glassdome-web' },
  });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie') ?? '', /^gd_session=; .*Max-Age=0/);
  const after = await api.request('GET', '/api/v1/labs', { key: null, headers: { cookie } });
  assert.equal(after.status, 401);
  assert.match(after.body.error.message, /signed out|expired/);

  const other = await api.keyWithRole('operator');
  const second = await signIn(other);
  const keys = (await api.request('GET', '/api/v1/keys')).body.items as { id: string; prefix: string }[];
  await api.request('DELETE', `/api/v1/keys/${keys.find((k) => other.startsWith(k.prefix))!.id}`);
  assert.equal(
    (await api.request('GET', '/api/v1/labs', { key: null, headers: { cookie: second.cookie } })).status,
    401,
  );

  const key = sessionSigningKey('another-secret-key-nobody-here-uses-0123456789');
  const adminId = keys.find((k) => ADMIN_KEY.startsWith(k.prefix))!.id;
  const forged = encodeSession(key, { keyId: adminId, expiresAt: Date.now() / 1000 + 600, nonce: 'x' });
  assert.equal(
    (await api.request('GET', '/api/v1/keys', { key: null, headers: { cookie: `gd_session=${forged}` } })).status,
    401,
  );
});

test('cookies expire: an expired one is refused even with a good signature', async () => {
  const key = sessionSigningKey('a-test-secret-key-that-is-long-enough-0123456789');
  const value = encodeSession(key, { keyId: 'k', expiresAt: 1000, nonce: 'n' });
  assert.equal(decodeSession(key, value, 999)?.keyId, 'k');
  assert.equal(decodeSession(key, value, 1000), undefined);
  assert.equal(decodeSession(key, `${value.slice(0, -2)}AA`, 999), undefined);

  // Over HTTP: the admin key's id, signed with the API's own key, one second past its expiry.
  const keys = (await api.request('GET', '/api/v1/keys')).body.items as { id: string; prefix: string }[];
  const adminId = keys.find((k) => ADMIN_KEY.startsWith(k.prefix))!.id;
  const live = encodeSession(key, { keyId: adminId, expiresAt: Date.now() / 1000 + 60, nonce: 'live' });
  const expired = encodeSession(key, { keyId: adminId, expiresAt: Date.now() / 1000 - 1, nonce: 'old' });
  const ask = (cookie: string) =>
    api.request('GET', '/api/v1/keys', { key: null, headers: { cookie: `gd_session=${cookie}` } });
  assert.equal((await ask(live)).status, 200, 'the same cookie before its expiry works');
  const refused = await ask(expired);
  assert.equal(refused.status, 401);
});

test('the cookie is Secure when a trusted proxy says the browser used TLS, and only then', async () => {
  // No proxy is trusted by default: a client cannot make (or unmake) the cookie Secure with a header.
  const forged = await api.request('POST', '/api/v1/session', {
    key: null,
    body: { apiKey: ADMIN_KEY },
    headers: { 'x-forwarded-proto': 'https' },
  });
  assert.equal(forged.status, 201);
  assert.doesNotMatch(forged.headers.get('set-cookie') ?? '', /Secure/);

  const proxied = await startTestApi('web_session_tls', {
    deps: { secretKey: 'a-test-secret-key-that-is-long-enough-0123456789', trustProxy: 'loopback' },
  });
  try {
    const overTls = await proxied.request('POST', '/api/v1/session', {
      key: null,
      body: { apiKey: ADMIN_KEY },
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.equal(overTls.status, 201);
    assert.match(overTls.headers.get('set-cookie') ?? '', /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const cookie = (overTls.headers.get('set-cookie') ?? '').split(';')[0]!;
    const out = await proxied.request('DELETE', '/api/v1/session', {
      key: null,
      headers: { cookie, 'x-requested-with': 'glassdome-web', 'x-forwarded-proto': 'https' },
    });
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0; Secure$/, 'sign-out clears it the same way');
    const plain = await proxied.request('POST', '/api/v1/session', { key: null, body: { apiKey: ADMIN_KEY } });
    assert.doesNotMatch(plain.headers.get('set-cookie') ?? '', /Secure/, 'plain HTTP through the proxy: not Secure');
  } finally {
    await proxied.close();
  }
  assert.equal(trustProxySetting(' 2 '), 2);
  assert.deepEqual(trustProxySetting('loopback, 10.0.0.0/8'), ['loopback', '10.0.0.0/8']);
});

test('Bull Board opens for an admin session and is refused for an operator session and no session', async () => {
  const admin = await signIn(ADMIN_KEY);
  const board = await send(api.url, 'GET', '/admin/queues', { key: null, headers: { cookie: admin.cookie } });
  assert.equal(board.status, 200);
  assert.match(board.text, /<html/i);
  const operator = await signIn(await api.keyWithRole('operator'));
  assert.equal(
    (await send(api.url, 'GET', '/admin/queues', { key: null, headers: { cookie: operator.cookie } })).status,
    403,
  );
  assert.equal((await send(api.url, 'GET', '/admin/queues', { key: null })).status, 401);
});

test('the UI is served at / and its routes fall back to index.html; API paths stay the API', async () => {
  const root = await send(api.url, 'GET', '/', { key: null });
  assert.equal(root.status, 200);
  assert.match(root.text, /<title>Glassdome<\/title>/);
  assert.match(root.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const deep = await send(api.url, 'GET', '/labs/some-lab', { key: null });
  assert.equal(deep.status, 200);
  assert.match(deep.text, /<div id="root">/);
  const asset = await send(api.url, 'GET', '/assets/app-abc123.js', { key: null });
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  assert.equal((await send(api.url, 'GET', '/assets/missing.js', { key: null })).status, 404);
  const unknownApi = await send(api.url, 'GET', '/api/v1/nothing-here');
  assert.equal(unknownApi.status, 404);
  assert.equal(unknownApi.body.error.code, 'not_found');
});
