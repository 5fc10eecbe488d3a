import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUNDLED_MODELS, auth, startServer, type Started } from '../helpers/server.js';

describe('ADMIN_PORT', () => {
  let s: Started;
  let adminUrl = '';
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, ADMIN_PORT: '1', REPOSITORY_POLL_INTERVAL_MS: '0' });
    const admin = s.app.ortserve.adminServer;
    assert.ok(admin, 'an admin server is built when ADMIN_PORT is set');
    await admin.listen({ host: '127.0.0.1', port: 0 });
    const addr = admin.server.address();
    assert.ok(addr && typeof addr === 'object', 'admin server listens');
    adminUrl = `http://127.0.0.1:${addr.port}`;
  });
  after(() => s.close());

  it('serves the admin API on its own port with the same token checks', async () => {
    const ok = await fetch(`${adminUrl}/admin/models`, { headers: auth('admin', 'ops') });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { models: { name: string }[] };
    assert.deepEqual(body.models.map((m) => m.name), ['breast_cancer', 'digits']);
    const noToken = await fetch(`${adminUrl}/admin/models`);
    assert.equal(noToken.status, 401);
    assert.deepEqual(Object.keys((await noToken.json()) as object), ['error']);
    assert.equal((await fetch(`${adminUrl}/admin/models`, { headers: auth('predict') })).status, 403);
    assert.equal((await fetch(`${adminUrl}/v2/models/breast_cancer`, { headers: auth('predict') })).status, 404, 'the admin port serves no inference route');
  });

  it('serves no admin route on the API port', async () => {
    const res = await fetch(`${s.url}/admin/models`, { headers: auth('admin', 'ops') });
    assert.equal(res.status, 404);
    const idx = await fetch(`${s.url}/v2/repository/index`, { method: 'POST', headers: auth('admin', 'ops') });
    assert.equal(idx.status, 404);
  });
});
