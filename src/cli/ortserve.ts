#!/usr/bin/env node
// The `ortserve` command: one entry, one subcommand per module. Exit codes: 0 done, 1 failed (server unreachable,
// refused, error answer), 2 bad usage (unknown subcommand or flag, missing argument; the usage goes to stderr).
import { type Command, CliError, type Io, UsageError } from './common.js';

/** Name, summary and module of each subcommand; a module is imported only when its command runs (fast start). */
interface Entry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

const COMMANDS: Entry[] = [
  { name: 'serve', summary: 'start the server (flags mirror the environment variables)', load: async () => (await import('./serve-command.js')).serveCommand },
  { name: 'token', summary: 'mint a JWT (JWT_SECRET, --secret or --key-file) and print it', load: async () => (await import('./token-command.js')).tokenCommand },
  { name: 'models', summary: 'list models, versions, states and traffic', load: async () => (await import('./admin-commands.js')).modelsCommand },
  { name: 'traffic', summary: "show or set a model's traffic weights and shadow", load: async () => (await import('./admin-commands.js')).trafficCommand },
  { name: 'rollback', summary: "restore a model's previous traffic table", load: async () => (await import('./admin-commands.js')).rollbackCommand },
  { name: 'upload', summary: 'upload a new model version (an .onnx file)', load: async () => (await import('./upload-command.js')).uploadCommand },
  { name: 'load', summary: "load a model's versions from the repository", load: async () => (await import('./admin-commands.js')).loadCommand },
  { name: 'unload', summary: 'drain and unload a model or one version', load: async () => (await import('./admin-commands.js')).unloadCommand },
  { name: 'bench', summary: 'a quick load test of one model against a running server', load: async () => (await import('./bench-command.js')).benchCommand },
];

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: ortserve <command> [flags]',
    '',
    'An ONNX model server (KServe V2 / Open Inference Protocol) and the tools to run it.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `ortserve <command> --help` for its flags. The commands that talk to a running server take --url and',
    '--token, or ORTSERVE_URL and ORTSERVE_TOKEN from the environment. Exit codes: 0 done, 1 failed, 2 bad usage.',
    '',
  ].join('\n');
}

async function run(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === undefined) {
      io.stderr.write(topHelp());
      return 2;
    }
    const about = name === 'help' && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(about ? (await about.load()).help(io) : topHelp());
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`ortserve: unknown command '${name}'\n\n${topHelp()}`);
    return 2;
  }
  const command = await entry.load();
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      const usage = command.help(io).split('\n')[0];
      io.stderr.write(`ortserve ${command.name}: ${err.message}\n${usage}\n(ortserve ${command.name} --help for all flags)\n`);
      return err.exitCode;
    }
    if (err instanceof CliError) {
      io.stderr.write(`ortserve ${command.name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

// Set the exit code, never call process.exit: `serve` keeps the process alive, and pending output must flush.
process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
