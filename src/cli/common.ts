// What every ortserve subcommand shares: the command shape, usage errors (exit 2) versus failures (exit 1), and
// argument parsing with node's util.parseArgs (strict: an unknown flag is a usage error, never ignored).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  /** The full help text (starts with "usage: ortserve <name> ..."). */
  help(io: Io): string;
  /** Returns the exit code; throws UsageError (exit 2) or CliError (exit 1 unless told). */
  run(argv: string[], io: Io): Promise<number>;
}

/** A failure to report as one line on stderr, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad arguments: the message and the subcommand's usage go to stderr, exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with strict checks; `--help`/`-h` is always accepted. Errors become UsageError. */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (err) {
    // parseArgs' messages end with advice about '--' that does not apply here; keep the first sentence.
    throw new UsageError((err as Error).message.split('. To specify')[0]!.replace(/\.$/, ''));
  }
}

/** A whole number within [min, max] from a flag's text; UsageError naming the flag otherwise. */
export function intFlag(name: string, raw: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got '${raw}')`);
  return v;
}

/** Writes `text` to stdout and returns exit code 0 (for --help). */
export function printed(io: Io, text: string): number {
  io.stdout.write(text);
  return 0;
}

/** Human-readable bytes: 1.5 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Left-aligned columns separated by two spaces; every row has as many cells as the header. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
