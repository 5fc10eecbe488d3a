// The CLI's progress line: redrawn in place with `\r` on a terminal (a bar with a total, a spinner without), plain
// lines without any `\r` elsewhere. The stream is a recorder with isTTY set as a terminal's would be; time is a
// counter the test advances.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Progress } from '../../src/cli/progress.js';

function recorder(isTTY: boolean, columns = 80) {
  const writes: string[] = [];
  return { writes, stream: Object.assign({ write: (s: string) => (writes.push(s), true) }, { isTTY, columns }) as unknown as NodeJS.WritableStream & { isTTY: boolean; columns: number } };
}

describe('Progress', () => {
  it('redraws one line with \\r and a bar on a terminal, at most every 100 ms, and ends it with a newline', () => {
    const { writes, stream } = recorder(true);
    let t = 0;
    const p = new Progress({ stream, total: 1000, render: (d, total) => `sent ${d} of ${total}`, now: () => t });
    p.update(100);
    t = 50;
    p.update(200);
    t = 150;
    p.update(500);
    t = 160;
    p.update(1000);
    p.finish('done 1000');
    assert.equal(writes.length, 4, 'the update 50 ms after a draw is skipped, the last step is not');
    assert.match(writes[0]!, /^\r\[#{2}\.{22}\] sent 100 of 1000\x1b\[K$/);
    assert.match(writes[1]!, /^\r\[#{12}\.{12}\] sent 500 of 1000/);
    assert.match(writes[2]!, /^\r\[#{24}\] sent 1000 of 1000/);
    assert.equal(writes[3], '\rdone 1000\x1b[K\n');
  });

  it('draws a spinner without a total and cuts the line to the terminal width so it never wraps', () => {
    const { writes, stream } = recorder(true, 20);
    let t = 0;
    const p = new Progress({ stream, render: () => 'a status line longer than twenty columns', now: () => t });
    p.update(1);
    t = 100;
    p.update(2);
    assert.equal(writes.length, 2);
    assert.equal(writes[0], '\r| a status line lon\x1b[K');
    assert.equal(writes[1], '\r/ a status line lon\x1b[K');
    p.clear();
    assert.equal(writes[2], '\r\x1b[K', 'clear erases the line');
    p.update(3);
    assert.equal(writes.length, 3, 'nothing after clear');
  });

  it('prints plain lines at each quarter of a known total and never a \\r when not on a terminal', () => {
    const { writes, stream } = recorder(false);
    const p = new Progress({ stream, total: 100, render: (d) => `uploaded ${d} bytes` });
    for (let d = 0; d <= 100; d += 5) p.update(d);
    p.finish('uploaded 100 bytes');
    assert.deepEqual(writes, ['uploaded 25 bytes\n', 'uploaded 50 bytes\n', 'uploaded 75 bytes\n', 'uploaded 100 bytes\n']);
  });

  it('prints a plain line every interval without a total', () => {
    const { writes, stream } = recorder(false);
    let t = 0;
    const p = new Progress({ stream, render: (d) => `${d} requests`, plainEveryMs: 1000, now: () => t });
    for (t = 0; t <= 3000; t += 100) p.update(t);
    assert.deepEqual(writes, ['1000 requests\n', '2000 requests\n', '3000 requests\n']);
    p.clear();
    assert.equal(writes.length, 3, 'clear writes nothing off a terminal');
  });
});
