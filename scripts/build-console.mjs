// Builds the operator console (console/) into dist/console/: index.html as is, app.js (the TypeScript modules and
// uPlot, one minified ES2020 bundle) and app.css (our styles with uPlot's CSS). Offline: everything comes from
// node_modules, nothing from a CDN. Type-checks console/ first (esbuild only strips types); --no-typecheck skips it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'console');
// `--dist <dir>`: build into <dir>/console instead of ./dist/console (the image-layout test builds elsewhere).
const distArg = process.argv.indexOf('--dist');
const out = path.join(distArg > 0 ? path.resolve(process.argv[distArg + 1]) : path.join(root, 'dist'), 'console');

if (!process.argv.includes('--no-typecheck')) {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(src, 'tsconfig.json'), '--noEmit'], { stdio: 'inherit' });
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: { app: path.join(src, 'src', 'main.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
await esbuild.build({
  absWorkingDir: root,
  entryPoints: { app: path.join(src, 'styles.css') },
  outdir: out,
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));
const files = fs.readdirSync(out).map((f) => `${f} ${fs.statSync(path.join(out, f)).size} B`);
console.log(`console built in ${path.relative(root, out)}: ${files.join(', ')}`);
