// Security headers on every listener, HTTPS with TLS_CERT_FILE/TLS_KEY_FILE (a self-signed certificate made here
// with openssl), and a clear start failure for unreadable TLS files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildServer } from '../../src/http/server.js';
import { freePort } from '../helpers/process.js';
import { auth, startServer, testConfig, type Started } from '../helpers/server.js';

const EXPECTED = ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cross-origin-opener-policy'];

function assertSecurityHeaders(headers: Headers | Record<string, unknown>, where: string): void {
  const get = (n: string) => (headers instanceof Headers ? headers.get(n) : (headers[n] as string | undefined)) ?? null;
  for (const name of EXPECTED) assert.ok(get(name), `${where}: ${name} is set`);
  assert.equal(get('x-content-type-options'), 'nosniff', where);
  assert.match(get('content-security-policy')!, /default-src 'self'/, where);
  assert.match(get('content-security-policy')!, /script-src 'self'/, where);
}

function selfSigned(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('security headers', () => {
  let s: Started;
  let adminPort: number;
  let metricsPort: number;
  before(async () => {
    adminPort = await freePort();
    metricsPort = await freePort();
    s = await startServer({ ADMIN_PORT: String(adminPort), METRICS_PORT: String(metricsPort) });
    await s.app.ortserve.adminServer!.listen({ host: '127.0.0.1', port: adminPort });
    await s.app.ortserve.metricsServer!.listen({ host: '127.0.0.1', port: metricsPort });
  });
  after(() => s.close());

  it('sets them on answers, errors and unknown routes of the API port', async () => {
    const ok = await fetch(`${s.url}/v2/models/multi_io`, { headers: auth() });
    assert.equal(ok.status, 200);
    assertSecurityHeaders(ok.headers, 'metadata 200');
    const unauthorized = await fetch(`${s.url}/v2/models/multi_io`);
    assert.equal(unauthorized.status, 401);
    assertSecurityHeaders(unauthorized.headers, '401');
    const missing = await fetch(`${s.url}/no/such/route`);
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing.headers, '404');
    const badBody = await fetch(`${s.url}/v2/models/multi_io/infer`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{' });
    assert.equal(badBody.status, 400);
    assertSecurityHeaders(badBody.headers, '400 from the body parser');
  });

  it('sets them on the admin and metrics listeners', async () => {
    const admin = await fetch(`http://127.0.0.1:${adminPort}/admin/models`, { headers: auth('admin') });
    assert.equal(admin.status, 200);
    assertSecurityHeaders(admin.headers, 'admin port');
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assertSecurityHeaders(metrics.headers, 'metrics port');
  });

  it('does not ask browsers to upgrade to https when the server speaks plain HTTP', async () => {
    const res = await fetch(`${s.url}/v2/health/live`);
    assert.doesNotMatch(res.headers.get('content-security-policy')!, /upgrade-insecure-requests/);
  });
});

describe('TLS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-tls-'));
  let files: { cert: string; key: string };
  let s: Started;
  let url: string;
  let adminPort: number;
  before(async () => {
    files = selfSigned(dir);
    adminPort = await freePort();
    s = await startServer({ TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key, ADMIN_PORT: String(adminPort) }, false);
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    await s.app.ortserve.adminServer!.listen({ host: '127.0.0.1', port: adminPort });
    const addr = s.app.server.address();
    url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API over HTTPS with the configured certificate', async () => {
    const res = await httpsGet(`${url}/v2/models/multi_io`, fs.readFileSync(files.cert), auth());
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { name: string }).name, 'multi_io');
    assert.match(String(res.headers['content-security-policy']), /upgrade-insecure-requests/);
  });

  it('serves the admin listener over HTTPS too', async () => {
    const res = await httpsGet(`https://127.0.0.1:${adminPort}/admin/models`, fs.readFileSync(files.cert), auth('admin'));
    assert.equal(res.status, 200);
  });

  it('refuses a client that does not trust the certificate', async () => {
    await assert.rejects(httpsGet(`${url}/v2/health/live`, Buffer.from('')), (err: NodeJS.ErrnoException) => /SELF_SIGNED|self-signed|certificate/i.test(`${err.code} ${err.message}`));
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    const plain = url.replace('https://', 'http://');
    const outcome = await fetch(`${plain}/v2/health/live`).then(
      (r) => `status ${r.status}`,
      () => 'failed',
    );
    assert.ok(outcome === 'failed' || outcome === 'status 400', `plain HTTP must not be served, got ${outcome}`);
  });

  it('refuses to start when a TLS file cannot be read, naming the variable', async () => {
    await assert.rejects(buildServer(testConfig({ TLS_CERT_FILE: path.join(dir, 'missing.pem'), TLS_KEY_FILE: files.key })), /TLS_CERT_FILE/);
  });

  it('refuses a configuration with only one of the two TLS files', () => {
    assert.throws(() => testConfig({ TLS_CERT_FILE: files.cert }), /TLS_KEY_FILE/);
  });
});
