// `ortserve serve`: the server with flags that mirror the environment. The flag list is derived from envSchema's
// keys (MODEL_REPOSITORY -> --model-repository), so a new variable gets a flag without a change here; a flag
// overrides its variable. The start itself is main.ts's, unchanged: the CLI validates the flags (naming them in
// errors), writes them into process.env and imports the entry module.
import { z } from 'zod';
import { envSchema } from '../config/env.js';
import { type Command, CliError, type Io, parse } from './common.js';

export interface EnvFlag {
  variable: string;
  flag: string;
  /** What to type: N, true|false, an enum's values, or VALUE. */
  valueHint: string;
  /** The default as text; undefined when the variable has none. */
  defaultText: string | undefined;
  description: string | undefined;
}

export const flagOf = (variable: string) => variable.toLowerCase().replace(/_/g, '-');

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

/** The schemas a field is made of, outermost first (preprocess pipes, default, optional, the base type). */
function layers(schema: AnySchema): AnySchema[] {
  const out: AnySchema[] = [];
  let s: AnySchema | undefined = schema;
  while (s && out.length < 8) {
    out.push(s);
    const def = s._zod.def as { out?: AnySchema; innerType?: AnySchema };
    s = def.out ?? def.innerType;
  }
  return out;
}

function describeField(variable: string, schema: AnySchema): EnvFlag {
  const parts = layers(schema);
  let defaultText: string | undefined;
  let valueHint = 'VALUE';
  let description: string | undefined;
  for (const p of parts) {
    const def = p._zod.def as { type: string; defaultValue?: unknown; entries?: Record<string, string>; in?: AnySchema };
    description ??= p.description;
    if (def.type === 'default' && defaultText === undefined) defaultText = String(def.defaultValue);
    if (def.type === 'number') valueHint = 'N';
    if (def.type === 'enum' && def.entries) valueHint = Object.values(def.entries).join('|');
    // The boolean flags are enum(true,false,1,0) piped into a transform.
    if (def.type === 'pipe' && def.in?._zod.def.type === 'enum') valueHint = 'true|false';
  }
  return { variable, flag: flagOf(variable), valueHint, defaultText, description };
}

/** Every environment variable of envSchema as a flag, in the schema's order. */
export function envFlags(): EnvFlag[] {
  return Object.entries(envSchema.shape).map(([variable, schema]) => describeField(variable, schema as unknown as AnySchema));
}

function serveHelp(): string {
  const flags = envFlags();
  const left = flags.map((f) => `  --${f.flag} ${f.valueHint}`);
  const width = Math.min(36, Math.max(...left.map((l) => l.length)) + 2);
  const varWidth = Math.max(...flags.map((f) => f.variable.length)) + 2;
  const lines = flags.map((f, i) => {
    const about = [f.defaultText !== undefined ? `default ${f.defaultText}` : 'unset', f.description].filter(Boolean).join('; ');
    const l = left[i]!;
    return `${l.length >= width ? `${l}\n${' '.repeat(width)}` : l.padEnd(width)}${f.variable.padEnd(varWidth)}${about}`;
  });
  return [
    'usage: ortserve serve [--port N] [--model-repository DIR] [...]',
    '',
    'Starts the server, exactly as `npm start` (node dist/main.js) does. Every environment variable the server',
    'reads has a flag; a flag overrides its variable. What each one means: the README, section "Configuration".',
    'Secrets are better passed in the environment (JWT_SECRET): flags show in the process list.',
    '',
    ...lines,
    '  -h, --help'.padEnd(width) + 'this help',
    '',
  ].join('\n');
}

/** The environment variables set by the flags in `argv`, or undefined for --help. */
export function envFromFlags(argv: string[]): Record<string, string> | undefined {
  const flags = envFlags();
  const options = Object.fromEntries(flags.map((f) => [f.flag, { type: 'string' as const }]));
  const { values } = parse(argv, options);
  if (values.help) return undefined;
  const env: Record<string, string> = {};
  for (const f of flags) {
    const v = (values as Record<string, unknown>)[f.flag];
    if (typeof v === 'string') env[f.variable] = v;
  }
  return env;
}

export const serveCommand: Command = {
  name: 'serve',
  help: () => serveHelp(),
  async run(argv: string[], io: Io): Promise<number> {
    const overrides = envFromFlags(argv);
    if (overrides === undefined) {
      io.stdout.write(serveHelp());
      return 0;
    }
    const env = { ...io.env, ...overrides };
    const parsed = envSchema.safeParse(env);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '');
        const where = variable in overrides ? `--${flagOf(variable)}` : variable || '(environment)';
        return `  - ${where}: ${issue.message}`;
      });
      throw new CliError(`invalid configuration:\n${problems.join('\n')}`, 2);
    }
    Object.assign(io.env, overrides);
    // main.ts starts the server when imported and owns the process from then on (signals, drain, exit code).
    // If it ever exports main(env) and starts only when run directly, call that instead.
    const entry = (await import('../main.js')) as { main?: (env: NodeJS.ProcessEnv) => Promise<void> };
    if (typeof entry.main === 'function') await entry.main(io.env);
    return 0;
  },
};
