// A small Dockerfile reader for static checks (no Docker engine runs where the tests run): instructions with
// line continuations joined and comments dropped, grouped into stages, plus the argument forms the checks need
// (exec-form JSON arrays, COPY flags, HEALTHCHECK options, ENV pairs), and a .dockerignore matcher.
import path from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface FromImage {
  image: string;
  /** Repository without tag or digest, e.g. `node`. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
  /** The `AS name` of the stage. */
  name: string | undefined;
}

export interface Stage {
  from: FromImage;
  instructions: Instruction[];
}

export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let current: { parts: string[]; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines (parser directives included) and blank lines are dropped, also inside a continuation.
    if (trimmed.startsWith('#') || (trimmed === '' && !current)) return;
    if (trimmed === '') return;
    const continued = /\\\s*$/.test(raw);
    const part = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (!current) current = { parts: [], line: i + 1 };
    current.parts.push(part.trim());
    if (!continued) {
      const joined = current.parts.join(' ');
      const m = /^(\S+)\s*([\s\S]*)$/.exec(joined)!;
      out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: current.line });
      current = undefined;
    }
  });
  if (current) throw new Error(`line ${current.line}: a continuation runs past the end of the file`);
  return out;
}

export function parseFrom(args: string): FromImage {
  const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
  const image = words[0] ?? '';
  const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
  const [withoutDigest, digest] = image.split('@') as [string, string | undefined];
  const colon = withoutDigest.lastIndexOf(':');
  const tagged = colon > withoutDigest.lastIndexOf('/');
  return {
    image,
    repository: tagged ? withoutDigest.slice(0, colon) : withoutDigest,
    tag: tagged ? withoutDigest.slice(colon + 1) : undefined,
    digest,
    name,
  };
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const ins of parseInstructions(text)) {
    if (ins.keyword === 'FROM') stages.push({ from: parseFrom(ins.args), instructions: [] });
    else if (ins.keyword !== 'ARG' || stages.length > 0) {
      if (stages.length === 0) throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return stages;
}

/** An exec-form argument list (`["node", "dist/main.js"]`), or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not a JSON array of strings: ${args}`);
  return parsed;
}

/** Leading `--name=value` (or bare `--name`) flags, and the rest. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!m) break;
    flags[m[1]!] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

export interface Copy {
  flags: Record<string, string>;
  sources: string[];
  dest: string;
  line: number;
}

export function parseCopy(ins: Instruction): Copy {
  const { flags, rest } = splitFlags(ins.args);
  const words = execForm(rest) ?? rest.split(/\s+/);
  if (words.length < 2) throw new Error(`line ${ins.line}: COPY needs a source and a destination`);
  return { flags, sources: words.slice(0, -1), dest: words[words.length - 1]!, line: ins.line };
}

/** `KEY=value KEY2="value 2"` (or the legacy `KEY value`) as pairs. */
export function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (!/^[\w.-]+=/.test(args)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(args);
    if (m) env[m[1]!] = m[2]!;
    return env;
  }
  for (const m of args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    const v = m[2]!;
    env[m[1]!] = v.startsWith('"') ? (JSON.parse(v) as string) : v.startsWith("'") ? v.slice(1, -1) : v;
  }
  return env;
}

export interface Healthcheck {
  options: Record<string, string>;
  command: string[] | undefined;
  shell: string | undefined;
}

export function parseHealthcheck(args: string): Healthcheck {
  const { flags, rest } = splitFlags(args);
  const m = /^CMD\s+([\s\S]*)$/i.exec(rest);
  if (!m) return { options: flags, command: undefined, shell: undefined };
  const command = execForm(m[1]!.trim());
  return { options: flags, command, shell: command ? undefined : m[1]!.trim() };
}

/** Where a COPY destination lands, given the stage's WORKDIR at that point. */
export function resolveDest(dest: string, workdir: string): string {
  return path.posix.resolve(workdir, dest);
}

/**
 * Where a COPY puts `source` (absolute): a folder's contents go into the destination folder; a file goes under its
 * own name into a destination that ends in `/` (or is shared by several sources), else to the destination path.
 */
export function copyTarget(source: string, sourceIsDir: boolean, c: Copy, workdir: string): string {
  const dest = resolveDest(c.dest, workdir);
  if (sourceIsDir) return dest;
  return c.dest.endsWith('/') || c.sources.length > 1 ? path.posix.join(dest, path.posix.basename(source)) : dest;
}

/** The WORKDIR in force before each instruction of a stage (starting at `/`). */
export function workdirs(stage: Stage): string[] {
  let wd = '/';
  return stage.instructions.map((ins) => {
    const before = wd;
    if (ins.keyword === 'WORKDIR') wd = path.posix.resolve(wd, ins.args);
    return before;
  });
}

/**
 * A .dockerignore matcher: Go filepath.Match patterns with `**`, `!` exceptions, the last matching pattern wins,
 * and an excluded folder excludes everything below it.
 */
export function dockerignore(text: string): (relPath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      const re = pattern
        .split('/')
        .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (relPath: string) => {
    const parts = path.posix.normalize(relPath).replace(/^\.\//, '').split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (rule.re.test(parts.slice(0, i).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}
