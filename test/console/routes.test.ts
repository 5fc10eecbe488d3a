// The console's routes without a browser: the built page is public, every data endpoint it adds is admin-only,
// their answers carry what the page shows, and CONSOLE_ENABLED / ADMIN_PORT decide where (or whether) it is served.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { ModelManager } from '../../src/lifecycle/model-manager.js';
import { consoleRoutes } from '../../src/http/routes/console.js';
import { BUNDLED_MODELS, ROOT, auth, startServer, type Started } from '../helpers/server.js';

/** Every data endpoint the console plugin adds (GET). */
const DATA_ENDPOINTS = ['/admin/stats', '/admin/models/breast_cancer/history', '/admin/models/breast_cancer/versions/1/monitoring'];

function buildConsole(): void {
  execFileSync(process.execPath, ['scripts/build-console.mjs', '--no-typecheck'], { cwd: ROOT, stdio: 'pipe' });
}

describe('console routes', () => {
  let s: Started;
  before(async () => {
    buildConsole();
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1' }, false);
  });
  after(() => s.close());

  it('serves the page, its script and its styles without a token', async () => {
    const page = await s.app.inject({ url: '/console/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<title>ortserve console<\/title>/);
    const js = await s.app.inject({ url: '/console/app.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    const css = await s.app.inject({ url: '/console/app.css' });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.match(css.body, /\.uplot/, "uPlot's stylesheet is bundled in");
  });

  it('redirects /console to /console/', async () => {
    const res = await s.app.inject({ url: '/console' });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/console/');
  });

  it('answers 404 for a file the build does not have, without a token', async () => {
    const res = await s.app.inject({ url: '/console/missing.js' });
    assert.equal(res.statusCode, 404);
  });

  it('ships a page that runs under a script-src self policy: no inline script, no eval, no remote URL', async () => {
    const html = (await s.app.inject({ url: '/console/' })).body;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs!, /\bsrc="app\.js"/, 'a script comes from a file');
      assert.equal(body!.trim(), '', 'and has no inline code');
    }
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const js = (await s.app.inject({ url: '/console/app.js' })).body;
    assert.doesNotMatch(js, /\beval\(|new Function\(/);
    assert.doesNotMatch(js, /https?:\/\/(?!www\.w3\.org\/)[a-z]/i, 'no request to another origin (SVG namespaces aside)');
  });

  it('refuses every data endpoint without a token (401) and with a predict-only token (403)', async () => {
    for (const url of DATA_ENDPOINTS) {
      assert.equal((await s.app.inject({ url })).statusCode, 401, `${url} without a token`);
      const res = await s.app.inject({ url, headers: auth('predict') });
      assert.equal(res.statusCode, 403, `${url} with a predict token`);
      assert.match(res.json<{ error: string }>().error, /admin/);
      assert.equal((await s.app.inject({ url, headers: auth('admin') })).statusCode, 200, `${url} with an admin token`);
    }
  });

  it('counts a request in the stats of the version that answered it, live', async () => {
    const stats = async () => (await s.app.inject({ url: '/admin/stats?window_seconds=60', headers: auth('admin') })).json<{ window_seconds: number; models: { name: string; versions: { version: string; requests_total?: number; requests?: number }[] }[] }>();
    const before = (await stats()).models.find((m) => m.name === 'breast_cancer')!.versions.find((v) => v.version === '1')!;
    const res = await s.app.inject({
      method: 'POST',
      url: '/v2/models/breast_cancer/versions/1/infer',
      headers: auth('predict'),
      payload: { inputs: [{ name: 'input', shape: [3, 30], datatype: 'FP32', data: new Array(90).fill(1) }] },
    });
    assert.equal(res.statusCode, 200);
    const body = await stats();
    assert.equal(body.window_seconds, 60);
    const v1 = body.models.find((m) => m.name === 'breast_cancer')!.versions.find((v) => v.version === '1')!;
    assert.equal(v1.requests_total, before.requests_total! + 1);
    assert.equal(v1.requests, before.requests! + 1);
  });

  it('refuses a window outside 10 s to 15 min', async () => {
    for (const w of ['5', '901', 'abc', '10.5']) {
      const res = await s.app.inject({ url: `/admin/stats?window_seconds=${w}`, headers: auth('admin') });
      assert.equal(res.statusCode, 400, w);
      assert.match(res.json<{ error: string }>().error, /window_seconds/);
    }
  });

  it("returns a version's drift per feature sorted by PSI, feedback and shadow state", async () => {
    const res = await s.app.inject({ url: '/admin/models/breast_cancer/versions/2/monitoring', headers: auth('admin') });
    const body = res.json<{ model_version: string; task: string; drift: { reference: string; features: { feature: string; psi: number | null }[]; prediction: { kind: string } }; feedback: { rows: number }; shadow: unknown }>();
    assert.equal(body.model_version, '2');
    assert.equal(body.task, 'classification');
    assert.equal(body.drift.reference, 'baseline');
    assert.equal(body.drift.features.length, 30);
    assert.equal(body.drift.prediction.kind, 'classes');
    assert.deepEqual(body.feedback, { rows: 0, accuracy: null });
    assert.equal(body.shadow, null, 'not a shadow');
  });

  it('returns chart history per ready version, and 404 for an unknown model or version', async () => {
    const res = await s.app.inject({ url: '/admin/models/breast_cancer/history', headers: auth('admin') });
    const body = res.json<{ sample_interval_seconds: number; retain_seconds: number; versions: { version: string; points: { t: number[] } }[] }>();
    assert.equal(body.retain_seconds, 900);
    assert.ok(body.sample_interval_seconds > 0);
    assert.deepEqual(body.versions.map((v) => v.version).sort(), ['1', '2']);
    assert.equal((await s.app.inject({ url: '/admin/models/nope/history', headers: auth('admin') })).statusCode, 404);
    assert.equal((await s.app.inject({ url: '/admin/models/breast_cancer/versions/9/monitoring', headers: auth('admin') })).statusCode, 404);
  });
});

describe('console placement', () => {
  before(buildConsole);

  it('is not served with CONSOLE_ENABLED=false, nor are its data endpoints', async () => {
    const s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1', CONSOLE_ENABLED: 'false' }, false);
    try {
      assert.equal((await s.app.inject({ url: '/console/' })).statusCode, 404);
      assert.equal((await s.app.inject({ url: '/admin/stats', headers: auth('admin') })).statusCode, 404);
    } finally {
      await s.close();
    }
  });

  it('goes with the admin API to ADMIN_PORT, so the page calls its own origin', async () => {
    const s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1', ADMIN_PORT: '1' }, false);
    try {
      const admin = s.app.ortserve.adminServer!;
      assert.equal((await s.app.inject({ url: '/console/' })).statusCode, 404, 'not on the API port');
      assert.equal((await admin.inject({ url: '/console/' })).statusCode, 200, 'on the admin listener, without a token');
      assert.equal((await admin.inject({ url: '/admin/stats' })).statusCode, 401);
      assert.equal((await admin.inject({ url: '/admin/stats', headers: auth('predict') })).statusCode, 403);
      assert.equal((await admin.inject({ url: '/admin/stats', headers: auth('admin') })).statusCode, 200);
    } finally {
      await s.close();
    }
  });

  it('answers 503 with the reason when the page has not been built', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ortserve-console-empty-'));
    const app = Fastify();
    const manager = { list: () => [] } as unknown as ModelManager;
    try {
      await app.register(consoleRoutes, { manager, root: empty });
      const res = await app.inject({ url: '/console/' });
      assert.equal(res.statusCode, 503);
      assert.match(res.json<{ error: string }>().error, /not built.*npm run build/);
    } finally {
      await app.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
