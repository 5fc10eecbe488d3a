// `ortserve upload <model> <version> <file>`: streams an ONNX file to PUT /admin/models/<m>/versions/<v> with its
// sha256 (computed locally first, so the server can refuse a corrupted or truncated body) and a progress bar of
// the bytes sent. The answer comes once the server has loaded and warmed the version up (201), or refused it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { authHeaders, httpFailure, parseAnswer, resolveTarget, seg, TARGET_HELP, type Target, targetOptions, unreachable } from './client.js';
import { type Command, CliError, formatBytes, parse, printed, UsageError } from './common.js';
import { Progress } from './progress.js';

const uploadHelp = [
  'usage: ortserve upload <model> <version> <file.onnx> [--force] [--url URL] [--token TOKEN] [--json]',
  '',
  'Uploads a new version (PUT /admin/models/<model>/versions/<version>) with its sha256 in X-Content-Sha256. The',
  'server checks the bytes, that the model loads, and that its inputs and outputs match the live version, then',
  'loads and warms it up; the command returns when the version is ready (or refused). Versions are immutable: an',
  'existing version number is refused (409). A new version gets traffic only if no traffic table pins another.',
  '',
  '  --force          accept inputs or outputs that differ from the live version',
  TARGET_HELP,
  "  --json           print the server's JSON answer",
  '  -h, --help       this help',
  '',
].join('\n');

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

interface Answer {
  status: number;
  body: unknown;
}

/** PUT the file with a known length; reports bytes handed to the socket. Resolves with the server's answer. */
function putFile(target: Target, path: string, file: string, size: number, sha256: string, onSent: (bytes: number) => void): Promise<Answer> {
  const url = new URL(target.url + path);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let answered = false;
    const source = fs.createReadStream(file);
    const req = client.request(url, {
      method: 'PUT',
      headers: { ...authHeaders(target), 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-content-sha256': sha256, accept: 'application/json' },
    });
    req.on('response', (res) => {
      answered = true;
      source.destroy();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: parseAnswer(text) ?? text });
      });
    });
    // A server that answers early (401, 413) may close the socket under the rest of the body: its answer wins.
    req.on('error', (err) => {
      if (!answered) reject(unreachable(target.url, err));
    });
    let sent = 0;
    source.on('data', (chunk) => {
      sent += chunk.length;
      onSent(sent);
    });
    source.on('error', (err) => {
      req.destroy();
      reject(new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    source.pipe(req);
  });
}

export const uploadCommand: Command = {
  name: 'upload',
  help: () => uploadHelp,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...targetOptions, force: { type: 'boolean' }, json: { type: 'boolean' } }, true);
    if (values.help) return printed(io, uploadHelp);
    if (positionals.length < 3) throw new UsageError(`missing ${['<model>', '<version>', '<file>'].slice(positionals.length).join(' ')}`);
    if (positionals.length > 3) throw new UsageError(`unexpected argument '${positionals[3]}'`);
    const [model, version, file] = positionals as [string, string, string];
    let size: number;
    try {
      const stat = fs.statSync(file);
      if (!stat.isFile()) throw new CliError(`${file} is not a file`);
      size = stat.size;
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const target = resolveTarget(values, io.env, 'admin');
    const sha256 = await sha256Of(file);
    const path = `/admin/models/${seg(model)}/versions/${seg(version)}${values.force ? '?force=true' : ''}`;

    const progress = new Progress({
      stream: io.stderr,
      total: size,
      render: (done, total = 0) =>
        done < total ? `uploaded ${done} of ${total} bytes (${formatBytes(done)}, ${Math.floor((done / total) * 100)}%)` : `uploaded ${done} bytes; the server is checking and loading the version`,
    });
    let answer: Answer;
    let sent = 0;
    try {
      answer = await putFile(target, path, file, size, sha256, (n) => progress.update((sent = n)));
    } catch (err) {
      progress.clear();
      throw err;
    }
    // The bytes are all sent long before the answer (the server loads and warms the version up first).
    progress.finish(`uploaded ${sent} bytes (${formatBytes(sent)}), sha256 ${sha256}`);
    if (answer.status < 200 || answer.status >= 300) throw httpFailure(target, 'PUT', path.split('?')[0]!, answer.status, answer.body);
    if (values.json) io.stdout.write(`${JSON.stringify(answer.body, null, 2)}\n`);
    else {
      const b = answer.body as { model?: string; version?: string; state?: string };
      io.stdout.write(`${b.model ?? model} version ${b.version ?? version}: ${b.state ?? 'uploaded'}\n`);
    }
    return 0;
  },
};
