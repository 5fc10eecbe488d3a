// HTTP timeouts against slow clients: a client that never finishes its headers, one that stalls in the middle of
// its body, and an idle keep-alive connection are all disconnected by the server, while a normal request still
// succeeds. The timeouts are short here (HTTP_*_TIMEOUT_MS) so that the test finishes quickly.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { auth, startServer, type Started } from '../helpers/server.js';

/** Opens a socket, writes `chunks`, and resolves with what the server sent once it closes the connection. */
function holdOpen(port: number, chunks: string[], giveUpMs: number): Promise<{ closedByServer: boolean; received: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedByServer: false, received });
    }, giveUpMs);
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedByServer: true, received });
    });
  });
}

describe('slow clients', () => {
  let s: Started;
  let port: number;
  before(async () => {
    s = await startServer({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' });
    port = Number(new URL(s.url).port);
  });
  after(() => s.close());

  it('disconnects a client that never finishes sending its headers', async () => {
    const r = await holdOpen(port, ['GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '], 20_000);
    assert.ok(r.closedByServer, 'the server closed the connection of a client stuck in its headers');
    assert.doesNotMatch(r.received, /HTTP\/1\.1 200/);
  });

  it('disconnects a client that stops in the middle of its body, with 408', async () => {
    const head = `POST /v2/models/multi_io/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth().authorization}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
    const r = await holdOpen(port, [head, '{"inputs": ['], 20_000);
    assert.ok(r.closedByServer, 'the server closed the connection of a client stuck in its body');
    assert.match(r.received, /^HTTP\/1\.1 408/);
  });

  it('closes an idle keep-alive connection after its request was answered', async () => {
    const r = await holdOpen(port, ['GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'], 20_000);
    assert.ok(r.closedByServer, 'the idle keep-alive connection was closed by the server');
    assert.match(r.received, /^HTTP\/1\.1 200/);
  });

  it('still answers a client that sends its request promptly', async () => {
    const res = await fetch(`${s.url}/v2/health/live`);
    assert.equal(res.status, 200);
  });
});
