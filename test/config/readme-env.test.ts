// The README's configuration table names every variable the server reads, and nothing it does not read.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { envSchema } from '../../src/config/env.js';
import { ROOT } from '../helpers/repo.js';

describe('README configuration table', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  const documented = new Set([...section.matchAll(/^\| (`[A-Z0-9_]+`(?:, `[A-Z0-9_]+`)*) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([A-Z0-9_]+)`/g)].map((x) => x[1]!)));

  it('documents every environment variable of the schema', () => {
    const missing = Object.keys(envSchema.shape).filter((k) => !documented.has(k));
    assert.deepEqual(missing, []);
  });

  it('documents no variable that the schema does not read', () => {
    const unknown = [...documented].filter((k) => !(k in envSchema.shape));
    assert.deepEqual(unknown, []);
  });
});
