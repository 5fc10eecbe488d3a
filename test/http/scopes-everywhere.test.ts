// Per-model scopes on every route the app serves, enumerated from Fastify's router (printRoutes), so a route this
// table does not classify fails the test: `predict:<other>` gets 403 on every model-scoped route and `predict:<m>`
// gets through on its own model; only `admin` reaches admin routes; no or an expired token is 401 with a Bearer
// challenge; a valid token lacking the scope is 403; the all-models statistics list only the token's models.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { mintToken } from '../../src/http/token.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { TEST_SECRET, startServer, token, type Started } from '../helpers/server.js';

type Kind = 'public' | 'token' | 'model' | 'admin';

/**
 * Every route (method and URL pattern as the router prints it) and what it needs. HEAD mirrors GET. A route added
 * to the app must be added here, with the kind it should have.
 */
const ROUTES: Record<string, Kind> = {
  'GET /docs': 'public',
  'GET /docs/': 'public',
  'GET /docs/static/index.html': 'public',
  'GET /docs/static/swagger-initializer.js': 'public',
  'GET /docs/static/*': 'public',
  'GET /docs/json': 'public',
  'GET /docs/yaml': 'public',
  'GET /metrics': 'public',
  'GET /v2/health/live': 'public',
  'GET /v2/health/ready': 'public',
  'GET /console': 'public',
  'GET /console/*': 'public',

  'GET /v2': 'token',
  'GET /v2/models/stats': 'token',

  'GET /v2/models/:model': 'model',
  'GET /v2/models/:model/ready': 'model',
  'POST /v2/models/:model/infer': 'model',
  'GET /v2/models/:model/stats': 'model',
  'GET /v2/models/:model/drift': 'model',
  'POST /v2/models/:model/feedback': 'model',
  'GET /v2/models/:model/versions/:version': 'model',
  'GET /v2/models/:model/versions/:version/ready': 'model',
  'POST /v2/models/:model/versions/:version/infer': 'model',
  'GET /v2/models/:model/versions/:version/stats': 'model',
  'GET /v2/models/:model/versions/:version/drift': 'model',
  'POST /v1/models/:model': 'model',
  'POST /v1/models/:model/versions/:version': 'model',

  'POST /v2/repository/index': 'admin',
  'POST /v2/repository/models/:model/load': 'admin',
  'POST /v2/repository/models/:model/unload': 'admin',
  'GET /admin/models': 'admin',
  'PUT /admin/models/:model/versions/:version': 'admin',
  'DELETE /admin/models/:model/versions/:version': 'admin',
  'GET /admin/models/:model/versions/:version/monitoring': 'admin',
  'GET /admin/models/:model/traffic': 'admin',
  'PUT /admin/models/:model/traffic': 'admin',
  'POST /admin/models/:model/traffic/rollback': 'admin',
  'GET /admin/models/:model/history': 'admin',
  'GET /admin/stats': 'admin',
};

interface Route {
  method: string;
  url: string;
}

/**
 * Method and URL pattern of every route, from the router's radix tree (`printRoutes()`): a route's pattern is the
 * labels on its path joined. (The `commonPrefix: false` form drops the static nodes above a wildcard.)
 */
function routesOf(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const labels: string[] = [];
  const tree = app.printRoutes();
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    labels.length = m[1]!.length / 4;
    labels.push(m[2]!);
    for (const method of m[3]?.split(', ') ?? []) routes.push({ method, url: labels.join('') });
  }
  assert.ok(routes.length > 10, `cannot read the route tree:\n${tree}`);
  for (const r of routes) assert.ok(app.hasRoute({ method: r.method as 'GET', url: r.url }), `read a route the app does not have: ${r.method} ${r.url}\n${tree}`);
  return routes;
}

const kindOf = (r: Route): Kind | undefined => ROUTES[`${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`];

const digitsInput = { name: 'image', shape: [1, 1, 8, 8], datatype: 'FP32', data: new Array(64).fill(0.5) };
const cancerInput = { name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(1) };
const instanceOf: Record<string, unknown> = { digits: [Array.from({ length: 8 }, () => new Array(8).fill(0.5))], breast_cancer: new Array(30).fill(1) };

/** A request for a route pattern on model `model` (version 1), with a body its handler can take. */
function requestFor(r: Route, model: string, headers: Record<string, string>): InjectOptions {
  const url = r.url
    .replace('/v1/models/:model/versions/:version', `/v1/models/${model}/versions/1:predict`)
    .replace(/^\/v1\/models\/:model$/, `/v1/models/${model}:predict`)
    .replace(':model', model)
    .replace(':version', '1')
    .replace(/\*$/, 'index.html');
  let payload: object | undefined;
  if (r.url.endsWith('/infer')) payload = { inputs: [model === 'digits' ? digitsInput : cancerInput] };
  else if (r.url.startsWith('/v1/')) payload = { instances: [instanceOf[model]] };
  else if (r.url.endsWith('/feedback')) payload = { id: 'no-such-response', labels: [0] };
  else if (r.method === 'POST' || r.method === 'PUT') payload = {};
  return { method: r.method as InjectOptions['method'], url, headers, ...(payload ? { payload } : {}) };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('scopes on every route', () => {
  let s: Started;
  let repo: string;
  let routes: Route[];
  const expired = mintToken({ secret: TEST_SECRET }, { sub: 'late', scope: 'predict admin', expiresInSeconds: 60 }, Math.floor(Date.now() / 1000) - 3600);
  before(async () => {
    // A private copy: the admin token below calls the admin routes (on a model that does not exist).
    repo = tempRepo('ortserve-scopes-');
    s = await startServer({ MODEL_REPOSITORY: repo, WARMUP: 'false', REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
    routes = routesOf(s.app);
  });
  after(async () => {
    await s.close();
    removeRepo(repo);
  });

  const ofKind = (kind: Kind) => routes.filter((r) => kindOf(r) === kind);
  async function status(opts: InjectOptions): Promise<{ status: number; challenge: string; body: string }> {
    const res = await s.app.inject(opts);
    return { status: res.statusCode, challenge: String(res.headers['www-authenticate'] ?? ''), body: res.body };
  }

  it('classifies every route the app serves (add a new route to ROUTES with the kind it needs)', () => {
    const unknown = routes.filter((r) => kindOf(r) === undefined).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(unknown, []);
  });

  it('names no route the app does not serve (the table is not stale)', () => {
    const served = new Set(routes.map((r) => `${r.method} ${r.url}`));
    assert.deepEqual(Object.keys(ROUTES).filter((k) => !served.has(k)), []);
  });

  it('answers 401 with a Bearer challenge on every non-public route without a token or with an expired one', async () => {
    for (const r of routes.filter((r) => kindOf(r) !== 'public')) {
      for (const headers of [{}, bearer(expired), bearer('not.a.jwt')]) {
        const res = await status(requestFor(r, 'digits', headers));
        assert.equal(res.status, 401, `${r.method} ${r.url}: ${res.status} ${res.body}`);
        assert.match(res.challenge, /^Bearer\b/, `${r.method} ${r.url}`);
      }
    }
  });

  it('answers public routes without a token', async () => {
    for (const r of ofKind('public')) {
      const res = await status(requestFor(r, 'digits', {}));
      assert.ok(res.status !== 401 && res.status !== 403, `${r.method} ${r.url}: ${res.status}`);
    }
  });

  it('refuses every model-scoped route of another model to a predict:<model> token with 403', async () => {
    const model = ofKind('model');
    assert.ok(model.length >= 13);
    for (const [mine, other] of [['digits', 'breast_cancer'], ['breast_cancer', 'digits']] as const) {
      const h = bearer(token(`predict:${mine}`, `${mine}-only`));
      for (const r of model) {
        const res = await status(requestFor(r, other, h));
        assert.equal(res.status, 403, `predict:${mine} on ${r.method} ${r.url} for ${other}: ${res.status} ${res.body}`);
      }
    }
  });

  it('lets a predict:<model> token through on every model-scoped route of its own model', async () => {
    for (const mine of ['digits', 'breast_cancer']) {
      const h = bearer(token(`predict:${mine}`, `${mine}-only`));
      for (const r of ofKind('model')) {
        const res = await status(requestFor(r, mine, h));
        if (r.method === 'POST') assert.ok(res.status !== 401 && res.status !== 403, `${r.method} ${r.url}: ${res.status} ${res.body}`);
        else assert.equal(res.status, 200, `predict:${mine} on ${r.method} ${r.url}: ${res.body}`);
      }
    }
  });

  it('answers inference and feedback on its own model as the handlers do (200, and 404 for an unknown response id)', async () => {
    const h = bearer(token('predict:digits'));
    for (const r of ofKind('model').filter((r) => r.method === 'POST')) {
      const res = await status(requestFor(r, 'digits', h));
      assert.equal(res.status, r.url.endsWith('/feedback') ? 404 : 200, `${r.method} ${r.url}: ${res.body}`);
    }
  });

  it('lets an unscoped predict token through on model routes of every model', async () => {
    const h = bearer(token('predict'));
    for (const model of ['digits', 'breast_cancer']) {
      for (const r of ofKind('model').filter((r) => r.method !== 'POST')) assert.equal((await status(requestFor(r, model, h))).status, 200, `${r.method} ${r.url}`);
    }
  });

  it('refuses model routes to an admin-only token with 403 (scopes do not imply each other)', async () => {
    const h = bearer(token('admin'));
    for (const r of ofKind('model')) assert.equal((await status(requestFor(r, 'digits', h))).status, 403, `${r.method} ${r.url}`);
  });

  it('refuses every admin route to predict tokens with 403, whatever model they name', async () => {
    for (const scope of ['predict', 'predict:digits', 'predict:digits predict:breast_cancer', 'predict:admin', 'admins', '']) {
      const h = bearer(token(scope));
      for (const r of ofKind('admin')) {
        const res = await status(requestFor(r, 'digits', h));
        assert.equal(res.status, 403, `'${scope}' on ${r.method} ${r.url}: ${res.status} ${res.body}`);
      }
    }
  });

  it('lets an admin token reach every admin route', async () => {
    const h = bearer(token('admin', 'operator'));
    // A model that does not exist, so that no admin call changes the repository.
    for (const r of ofKind('admin')) {
      const res = await status(requestFor(r, 'no_such_model', h));
      assert.ok(res.status !== 401 && res.status !== 403, `${r.method} ${r.url}: ${res.status} ${res.body}`);
    }
  });

  it('lets any valid token use the token-level routes', async () => {
    for (const scope of ['predict:digits', 'admin', '']) {
      for (const r of ofKind('token')) assert.equal((await status(requestFor(r, 'digits', bearer(token(scope))))).status, 200, `'${scope}' on ${r.url}`);
    }
  });

  it('lists in GET /v2/models/stats only the models the token may use', async () => {
    const names = async (scope: string) => {
      const res = await s.app.inject({ method: 'GET', url: '/v2/models/stats', headers: bearer(token(scope)) });
      assert.equal(res.statusCode, 200);
      return [...new Set((JSON.parse(res.body) as { model_stats: { name: string }[] }).model_stats.map((e) => e.name))].sort();
    };
    assert.deepEqual(await names('predict:digits'), ['digits']);
    assert.deepEqual(await names('predict:breast_cancer'), ['breast_cancer']);
    assert.deepEqual(await names('predict'), ['breast_cancer', 'digits']);
    assert.deepEqual(await names('predict:nothing'), []);
    assert.deepEqual(await names('admin'), []);
  });
});

describe('scopes on the admin listener (ADMIN_PORT)', () => {
  let s: Started;
  let repo: string;
  before(async () => {
    repo = tempRepo('ortserve-scopes-admin-');
    // ADMIN_PORT only builds the second server here; main.ts would listen on it.
    s = await startServer({ MODEL_REPOSITORY: repo, WARMUP: 'false', ADMIN_PORT: '1', REPOSITORY_POLL_INTERVAL_MS: '0' }, false);
  });
  after(async () => {
    await s.close();
    removeRepo(repo);
  });

  it('refuses every route of the admin server to predict tokens with 403, and answers 401 without a token', async () => {
    const admin = s.app.ortserve.adminServer!;
    const routes = routesOf(admin).filter((r) => kindOf(r) !== 'public');
    assert.ok(routes.length >= 10);
    for (const r of routes) {
      assert.equal(kindOf(r), 'admin', `${r.method} ${r.url} on the admin listener`);
      assert.equal((await admin.inject(requestFor(r, 'digits', bearer(token('predict'))))).statusCode, 403, `${r.method} ${r.url}`);
      assert.equal((await admin.inject(requestFor(r, 'digits', {}))).statusCode, 401, `${r.method} ${r.url}`);
    }
  });

  it('serves no admin route on the API listener', async () => {
    const admin = routesOf(s.app).filter((r) => kindOf(r) === 'admin');
    assert.deepEqual(admin, []);
  });
});
