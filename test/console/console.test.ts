// The operator console in a real browser (Debian's chromium driven by playwright-core) against a real server on
// loopback with a private copy of the bundled models: sign in, see both versions of breast_cancer with v1 at 100%,
// move traffic to v2 with the slider, see answers come from v2, roll back, see v1 again; the token stays in
// sessionStorage, and the server (not the page) refuses callers without the admin scope. Screenshots of each page go
// to artifacts/console/ (and to docs/console/ with UPDATE_SCREENSHOTS=1).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { prng } from '../helpers/random.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { ROOT, startServer, token, type Started } from '../helpers/server.js';

const ARTIFACTS = path.join(ROOT, 'artifacts/console');
const DOCS_IMAGES = path.join(ROOT, 'docs/console');
const TOKEN_KEY = 'ortserve.console.token';

interface Split {
  X: number[][];
  y: number[];
}
const data = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/data/breast_cancer.json'), 'utf8')) as { feature_names: string[]; train: Split; test: Split };

/** Waits until `read()` satisfies `ok` (a hang guard, not a timing assertion); fails with the last value seen. */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, withinMs = 15_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what}: last seen ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const text = (l: Locator) => l.textContent().then((t) => (t ?? '').trim());

describe('operator console in a real browser', { timeout: 120_000 }, () => {
  let s: Started;
  let repo: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const admin = token('admin', 'ops-alice');
  const predict = token('predict', 'client-bob');
  /** Every request the page sent to the server's API (not its static files). */
  const apiCalls: { url: string; authorization: string | undefined }[] = [];

  const api = async (method: string, url: string, body: unknown, bearer: string) => {
    const res = await fetch(`${s.url}${url}`, { method, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** One unversioned inference of `rows`; returns the version that answered. */
  const infer = async (rows: number[][], id?: string): Promise<{ model_version: string; outputs: { data: number[] }[] }> => {
    const res = await api('POST', '/v2/models/breast_cancer/infer', { ...(id ? { id } : {}), inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows }] }, predict);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const screenshot = async (name: string) => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      fs.mkdirSync(DOCS_IMAGES, { recursive: true });
      fs.copyFileSync(file, path.join(DOCS_IMAGES, `${name}.png`));
    }
  };
  const row = (version: string) => page.locator(`[data-model="breast_cancer"] tr[data-version="${version}"]`);
  const cell = (version: string, field: string) => row(version).locator(`td[data-field="${field}"]`);
  /** Confirms the dialog that a destructive action opens, then waits for the server's answer in the panel. */
  const confirmAndAnswer = async (action: string) => {
    const panel = page.locator('[data-testid="answer"]');
    const seen = Number((await panel.getAttribute('data-seq')) ?? 0);
    await page.locator('[data-testid="confirm"]').waitFor();
    await page.locator('[data-testid="confirm-ok"]').click();
    await page.locator(`[data-testid="answer"][data-seq="${seen + 1}"][data-action="${action}"]`).waitFor();
    return { status: await panel.getAttribute('data-status'), body: JSON.parse(await text(page.locator('[data-testid="answer-body"]'))) as any };
  };

  before(async () => {
    execFileSync(process.execPath, ['scripts/build-console.mjs', '--no-typecheck'], { cwd: ROOT, stdio: 'pipe' });
    repo = tempRepo('ortserve-console-');
    s = await startServer({ MODEL_REPOSITORY: repo, WORKER_THREADS: '1', DRIFT_INTERVAL_MS: '200' });
    const set = await api('PUT', '/admin/models/breast_cancer/traffic', { weights: { 1: 100, 2: 0 } }, admin);
    assert.equal(set.status, 200, JSON.stringify(set.body));
    // Some traffic before the page opens, so the tables have numbers.
    for (let i = 0; i < 10; i++) assert.equal((await infer(data.test.X.slice(i * 5, i * 5 + 5))).model_version, '1');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    page = await context.newPage();
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (!url.pathname.startsWith('/console')) apiCalls.push({ url: req.url(), authorization: req.headers().authorization });
    });
  });

  after(async () => {
    await browser?.close();
    await s?.close();
    if (repo) removeRepo(repo);
  });

  it('shows the sign-in form and refuses a token without the admin scope', async () => {
    await page.goto(`${s.url}/console`);
    assert.equal(new URL(page.url()).pathname, '/console/', '/console redirects to /console/');
    await page.locator('[data-testid="signin"]').waitFor();
    await screenshot('signin');
    await page.fill('#token', predict);
    await page.click('[data-testid="signin"] button[type="submit"]');
    const error = await until('the refusal', () => text(page.locator('[data-testid="signin-error"]')), (t) => t !== '');
    assert.match(error, /403.*lacks scope 'admin'/);
    assert.equal(await page.evaluate(`sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)})`), null, 'a refused token is not kept');
  });

  it('signs in with an admin token and lists both versions with v1 at 100%', async () => {
    await page.fill('#token', admin);
    await page.click('[data-testid="signin"] button[type="submit"]');
    await page.locator('[data-testid="models-page"] article[data-model="breast_cancer"] tr[data-version="2"]').waitFor();
    assert.equal(await text(cell('1', 'weight')), '100%');
    assert.equal(await text(cell('2', 'weight')), '0%');
    assert.equal(await text(cell('1', 'state')), 'ready');
    assert.equal(await text(cell('2', 'state')), 'ready');
    assert.match((await cell('1', 'sha256').getAttribute('title'))!, /^[0-9a-f]{64}$/, 'the full sha256 on hover');
    await until('v1 request count', () => text(cell('1', 'total')), (t) => t === '10');
    assert.notEqual(await text(cell('1', 'rps')), '–', 'a rate over the window');
    assert.match(await text(cell('1', 'p50')), /ms$/);
    await screenshot('models');
  });

  it('keeps the token in sessionStorage only, never in the URL, and sends it with every call', async () => {
    assert.equal(await page.evaluate(`sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)})`), admin);
    assert.equal(await page.evaluate('localStorage.length'), 0);
    assert.deepEqual(await context.cookies(), []);
    assert.ok(!page.url().includes(admin) && !page.url().includes('eyJ'), page.url());
    assert.ok(apiCalls.length > 0);
    for (const c of apiCalls) assert.ok(!c.url.includes('eyJ'), `no token in ${c.url}`);
    const afterSignIn = apiCalls.filter((c) => c.authorization === `Bearer ${admin}`);
    assert.ok(afterSignIn.length >= 2, 'data calls carry the admin token');
    assert.ok(apiCalls.every((c) => c.authorization?.startsWith('Bearer ')), 'no call without a token');
  });

  it('moves traffic to v2 with the slider, shows the answer, and v2 answers', async () => {
    await page.click('[data-testid="model-link"]');
    await page.locator('[data-testid="model-page"] input[type="range"][data-version="2"]').waitFor();
    await page.locator('input[type="range"][data-version="2"]').fill('100');
    assert.equal(await page.locator('input[type="range"][data-version="1"]').inputValue(), '0', 'two versions are linked: the other takes the rest');
    await page.click('[data-testid="save-weights"]');
    const answer = await confirmAndAnswer('save weights');
    assert.equal(answer.status, '200');
    assert.deepEqual(answer.body.weights, { 1: 0, 2: 100 });
    const served = await infer(data.test.X.slice(0, 10), 'console-v2');
    assert.equal(served.model_version, '2');
    await until('v2 at 100% on the page', () => text(cell('2', 'weight')), (t) => t === '100%');
    await until('v2 counts the request', () => text(cell('2', 'total')), (t) => t === '1');
  });

  it('shows drift per feature sorted by PSI with the shifted one highlighted, accuracy from feedback and charts', async () => {
    // Rows from the training data with one feature moved by one standard deviation, then feedback for 10 rows.
    const j = data.feature_names.indexOf('mean texture');
    const values = data.train.X.map((r) => r[j]!);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    const rand = prng(8);
    for (let b = 0; b < 12; b++) {
      const rows = Array.from({ length: 50 }, () => [...data.train.X[Math.floor(rand() * data.train.X.length)]!]);
      for (const r of rows) r[j]! += sd;
      assert.equal((await infer(rows)).model_version, '2');
    }
    await page.click('[role="tab"][data-version="2"]');
    const feedback = await api('POST', '/v2/models/breast_cancer/feedback', { id: 'console-v2', labels: data.test.y.slice(0, 10) }, predict);
    assert.equal(feedback.status, 202);
    const first = page.locator('[data-testid="drift"] tbody tr').first();
    await until('mean texture shifted and first', async () => [await first.getAttribute('data-feature'), await first.getAttribute('class')], ([f, c]) => f === 'mean texture' && c === 'psi-shifted');
    const psis = await page.locator('[data-testid="drift"] td[data-field="psi"]').allTextContents();
    const numbers = psis.map(Number).filter((x) => Number.isFinite(x));
    assert.equal(numbers.length, 30);
    assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), 'sorted by PSI');
    await until('accuracy from feedback', () => text(page.locator('[data-field="accuracy"]')), (t) => /% over the last 10 labelled rows/.test(t));
    await page.locator('[data-testid="prediction-distribution"]').waitFor();
    await until('v2 batch sizes', () => page.locator('[data-testid="batch-sizes"] [data-version="2"] .barrow').count(), (n) => n > 0);
    await page.locator('[data-testid="chart-throughput"] canvas').first().waitFor();
    await screenshot('model');
  });

  it('asks before a destructive action, and shows the server refusing to unload a version that has traffic', async () => {
    await row('2').locator('[data-testid="unload"]').click();
    await page.locator('[data-testid="confirm"]').waitFor();
    await page.locator('[data-testid="confirm-cancel"]').click();
    assert.equal(await page.locator('[data-testid="confirm"]').count(), 0);
    assert.equal(await text(cell('2', 'state')), 'ready', 'cancelled: nothing happened');
    await row('2').locator('[data-testid="unload"]').click();
    const answer = await confirmAndAnswer('unload v2');
    assert.equal(answer.status, '409');
    assert.match(answer.body.error, /still receives traffic/);
  });

  it('rolls back to v1 and answers come from v1 again', async () => {
    await page.click('[data-testid="rollback"]');
    const answer = await confirmAndAnswer('roll back');
    assert.equal(answer.status, '200');
    assert.deepEqual(answer.body.weights, { 1: 100, 2: 0 });
    assert.equal((await infer(data.test.X.slice(0, 1))).model_version, '1');
    await until('v1 at 100% on the page', () => text(cell('1', 'weight')), (t) => t === '100%');
    assert.equal(await text(cell('2', 'weight')), '0%');
  });

  it('starts a shadow, shows its agreement rate, and stops it', async () => {
    await page.selectOption('[data-testid="shadow-version"]', '2');
    await page.fill('[data-testid="shadow-fraction"]', '1');
    await page.click('[data-testid="shadow-start"]');
    await page.locator('[data-testid="answer"][data-action="start shadow"][data-status="200"]').waitFor();
    for (let i = 0; i < 5; i++) assert.equal((await infer(data.test.X.slice(i, i + 1))).model_version, '1', 'the primary answers');
    await until('shadow column', () => text(cell('2', 'shadow')), (t) => t === '100% mirrored');
    await page.click('[role="tab"][data-version="2"]');
    await until('agreement', () => text(page.locator('[data-field="shadow-agreement"]')), (t) => / of 5 mirrored requests/.test(t));
    await page.click('[data-testid="shadow-stop"]');
    await page.locator('[data-testid="answer"][data-action="stop shadow"][data-status="200"]').waitFor();
    assert.equal(JSON.parse(await text(page.locator('[data-testid="answer-body"]'))).shadow, null);
  });

  it('promotes v2 to 100% (blue/green) after a confirmation, and rolls that back', async () => {
    await row('2').locator('[data-testid="promote"]').click();
    const promoted = await confirmAndAnswer('promote v2');
    assert.equal(promoted.status, '200');
    assert.deepEqual(promoted.body.weights, { 2: 100 });
    assert.equal((await infer(data.test.X.slice(0, 1))).model_version, '2');
    await page.click('[data-testid="rollback"]');
    const back = await confirmAndAnswer('roll back');
    assert.deepEqual(back.body.weights, { 1: 100, 2: 0 });
  });

  it('unloads a version without traffic and loads it again', async () => {
    await row('2').locator('[data-testid="unload"]').click();
    const unloaded = await confirmAndAnswer('unload v2');
    assert.equal(unloaded.status, '200');
    await until('v2 unloaded on the page', () => text(cell('2', 'state')), (t) => t === 'unloaded');
    assert.equal((await api('POST', '/v2/models/breast_cancer/versions/2/infer', { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: data.test.X[0] }] }, predict)).status, 503);
    await row('2').locator('[data-testid="load"]').click();
    await page.locator('[data-testid="answer"][data-action="load breast_cancer"][data-status="200"]').waitFor();
    await until('v2 ready again', () => text(cell('2', 'state')), (t) => t === 'ready');
  });

  it('gets 401 without a token and 403 with a predict token from the page: the server enforces the scope', async () => {
    const statuses = await page.evaluate(async (predictToken) => {
      const plain = await fetch('/admin/stats');
      const withPredict = await fetch('/admin/models/breast_cancer/traffic/rollback', { method: 'POST', headers: { authorization: `Bearer ${predictToken}` } });
      const models = await fetch('/admin/models', { headers: { authorization: `Bearer ${predictToken}` } });
      return [plain.status, withPredict.status, models.status];
    }, predict);
    assert.deepEqual(statuses, [401, 403, 403]);
  });

  it('signs out: the token leaves sessionStorage and the sign-in form returns', async () => {
    await page.click('#signout');
    await page.locator('[data-testid="signin"]').waitFor();
    assert.equal(await page.evaluate(`sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)})`), null);
  });
});
