// The admin subcommands against a running server (scope `admin`): models, traffic, rollback, load, unload. Each is
// one or two calls to the admin API of src/http/routes/admin.ts; the server checks everything, this file only
// shapes the request and prints the answer (a table, or --json for the raw body).
import { requestJson, resolveTarget, seg, TARGET_HELP, type Target, targetOptions } from './client.js';
import { type Command, formatTable, type Io, parse, printed, UsageError } from './common.js';

/** GET /admin/models, as admin.ts answers it. */
export interface ModelsView {
  models: {
    name: string;
    reason?: string;
    versions: { version: string; state: string; reason?: string; sha256: string | null; load_time: string | null; queue_depth: number }[];
    traffic: TrafficView;
  }[];
}

export interface TrafficView {
  weights: Record<string, number> | null;
  shadow: { version: string; fraction: number } | null;
  revision: number;
  default_version?: string | null;
}

const pct = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;

/** The weight column: the table's weight, or under the default policy `default` for the version that serves. */
function weightOf(t: TrafficView, version: string): string {
  if (t.weights) return version in t.weights ? `${t.weights[version]}%` : '-';
  return t.default_version === version ? 'default' : '-';
}

export function modelsTable(view: ModelsView): string {
  const rows: string[][] = [];
  for (const m of view.models) {
    if (m.versions.length === 0) rows.push([m.name, '-', m.reason ? 'failed' : 'unloaded', '-', '-', '-', '-', m.reason ?? '']);
    for (const v of m.versions) {
      const t = m.traffic;
      const shadow = t.shadow?.version === v.version ? pct(t.shadow.fraction) : '-';
      rows.push([m.name, v.version, v.state, weightOf(t, v.version), shadow, String(v.queue_depth), v.sha256 ? v.sha256.slice(0, 12) : '-', v.reason ?? '']);
    }
  }
  if (rows.length === 0) return 'no models\n';
  return formatTable(['MODEL', 'VERSION', 'STATE', 'WEIGHT', 'SHADOW', 'QUEUE', 'SHA256', 'REASON'], rows);
}

export function trafficText(model: string, t: TrafficView): string {
  if (!t.weights) {
    const serving = t.default_version ? `version ${t.default_version} (the highest ready)` : 'no version (none is ready)';
    return `${model}: no traffic table (revision ${t.revision}); unversioned requests go to ${serving}\n`;
  }
  const versions = new Set([...Object.keys(t.weights), ...(t.shadow ? [t.shadow.version] : [])]);
  const rows = [...versions].sort((a, b) => Number(a) - Number(b)).map((v) => [v, v in t.weights! ? `${t.weights![v]}%` : '-', t.shadow?.version === v ? pct(t.shadow.fraction) : '-']);
  return `${model}: traffic table at revision ${t.revision}\n${formatTable(['VERSION', 'WEIGHT', 'SHADOW'], rows)}`;
}

function helpText(usage: string, about: string, flags: string[] = []): string {
  return [`usage: ${usage}`, '', about, '', ...flags, TARGET_HELP, '  --json           print the server\'s JSON answer', '  -h, --help       this help', ''].join('\n');
}

const jsonOut = (io: Io, body: unknown) => io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);

/** The single positional <model> (and an optional second), or a UsageError. */
function positionals(list: string[], min: number, max: number, what: string): string[] {
  if (list.length < min) throw new UsageError(`missing ${what}`);
  if (list.length > max) throw new UsageError(`unexpected argument '${list[max]}'`);
  return list;
}

const common = { ...targetOptions, json: { type: 'boolean' } } as const;

const modelsHelp = helpText('ortserve models [--url URL] [--token TOKEN] [--json]', 'Lists every model and version with its state, traffic weight, shadow share and queue depth (GET /admin/models).');

export const modelsCommand: Command = {
  name: 'models',
  help: () => modelsHelp,
  async run(argv, io) {
    const { values, positionals: rest } = parse(argv, common, true);
    if (values.help) return printed(io, modelsHelp);
    positionals(rest, 0, 0, '');
    const body = await requestJson<ModelsView>(resolveTarget(values, io.env, 'admin'), 'GET', '/admin/models');
    if (values.json) jsonOut(io, body);
    else io.stdout.write(modelsTable(body));
    return 0;
  },
};

const trafficHelp = helpText(
  'ortserve traffic <model> [VERSION=WEIGHT ...] [--shadow VERSION:FRACTION | --shadow none] [--url URL] [--token TOKEN] [--json]',
  [
    'Without weights or --shadow: prints the model\'s traffic table. With them: reads the table, then replaces it',
    '(PUT /admin/models/<model>/traffic) naming the revision it read, so a concurrent change is refused, not undone.',
    'The weights given are the new weights, whole percentages summing to 100 (`ortserve traffic breast_cancer 1=90 2=10`);',
    'with --shadow alone the current weights stay. The current shadow stays unless --shadow changes it.',
  ].join('\n'),
  ['  --shadow V:F     mirror the fraction F (0 < F <= 1) of requests to version V; `none` removes the shadow'],
);

function parseWeights(args: string[]): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const a of args) {
    const m = /^([^=]+)=(.+)$/.exec(a);
    if (!m) throw new UsageError(`'${a}' is not VERSION=WEIGHT (like 2=10)`);
    const w = Number(m[2]!.replace(/%$/, ''));
    if (!Number.isFinite(w)) throw new UsageError(`'${a}': the weight must be a number`);
    if (m[1]! in weights) throw new UsageError(`version ${m[1]} is given twice`);
    weights[m[1]!] = w;
  }
  return weights;
}

function parseShadow(raw: string): TrafficView['shadow'] {
  if (raw === 'none' || raw === 'off') return null;
  const m = /^([^:]+):(.+)$/.exec(raw);
  const fraction = m ? Number(m[2]!.endsWith('%') ? Number(m[2]!.slice(0, -1)) / 100 : m[2]) : NaN;
  if (!m || !Number.isFinite(fraction)) throw new UsageError(`--shadow '${raw}' is not VERSION:FRACTION (like 3:0.1) or none`);
  return { version: m[1]!, fraction };
}

export const trafficCommand: Command = {
  name: 'traffic',
  help: () => trafficHelp,
  async run(argv, io) {
    const { values, positionals: rest } = parse(argv, { ...common, shadow: { type: 'string' } }, true);
    if (values.help) return printed(io, trafficHelp);
    const [model, ...weightArgs] = positionals(rest, 1, Infinity, '<model>');
    const weights = parseWeights(weightArgs);
    const shadow = values.shadow === undefined ? undefined : parseShadow(values.shadow);
    const target = resolveTarget(values, io.env, 'admin');
    const path = `/admin/models/${seg(model!)}/traffic`;
    const current = await requestJson<TrafficView>(target, 'GET', path);
    if (weightArgs.length === 0 && shadow === undefined) {
      if (values.json) jsonOut(io, current);
      else io.stdout.write(trafficText(model!, current));
      return 0;
    }
    const nextWeights = weightArgs.length > 0 ? weights : current.weights;
    if (!nextWeights) throw new UsageError(`model '${model}' has no traffic table yet: give the weights too (like 1=100)`);
    const next = { weights: nextWeights, shadow: shadow === undefined ? current.shadow : shadow, revision: current.revision };
    const after = await putTraffic(target, path, next);
    if (values.json) jsonOut(io, after);
    else io.stdout.write(trafficText(model!, after));
    return 0;
  },
};

async function putTraffic(target: Target, path: string, body: { weights: Record<string, number>; shadow: TrafficView['shadow']; revision: number }): Promise<TrafficView> {
  try {
    return await requestJson<TrafficView>(target, 'PUT', path, body);
  } catch (err) {
    // The server's 409 for a stale revision already says "GET it and try again"; say what that means here.
    if (err instanceof Error && /stale revision/.test(err.message)) err.message += '\nhint: someone changed the table meanwhile; check it with `ortserve traffic <model>` and run the command again';
    throw err;
  }
}

const rollbackHelp = helpText('ortserve rollback <model> [--url URL] [--token TOKEN] [--json]', 'Puts the previous traffic table back (POST /admin/models/<model>/traffic/rollback) and prints the table now in force.');

export const rollbackCommand: Command = {
  name: 'rollback',
  help: () => rollbackHelp,
  async run(argv, io) {
    const { values, positionals: rest } = parse(argv, common, true);
    if (values.help) return printed(io, rollbackHelp);
    const [model] = positionals(rest, 1, 1, '<model>');
    const after = await requestJson<TrafficView>(resolveTarget(values, io.env, 'admin'), 'POST', `/admin/models/${seg(model!)}/traffic/rollback`);
    if (values.json) jsonOut(io, after);
    else io.stdout.write(trafficText(model!, after));
    return 0;
  },
};

const loadHelp = helpText('ortserve load <model> [--url URL] [--token TOKEN]', 'Loads every version of the model found in the repository (POST /v2/repository/models/<model>/load).');

export const loadCommand: Command = {
  name: 'load',
  help: () => loadHelp,
  async run(argv, io) {
    const { values, positionals: rest } = parse(argv, common, true);
    if (values.help) return printed(io, loadHelp);
    const [model] = positionals(rest, 1, 1, '<model>');
    await requestJson(resolveTarget(values, io.env, 'admin'), 'POST', `/v2/repository/models/${seg(model!)}/load`, {});
    io.stdout.write(`loaded ${model}\n`);
    return 0;
  },
};

const unloadHelp = helpText(
  'ortserve unload <model> [<version>] [--url URL] [--token TOKEN]',
  'Drains and unloads every version of the model (POST /v2/repository/models/<model>/unload), or one version\n(DELETE /admin/models/<model>/versions/<version>; refused while the traffic table routes to it).',
);

export const unloadCommand: Command = {
  name: 'unload',
  help: () => unloadHelp,
  async run(argv, io) {
    const { values, positionals: rest } = parse(argv, common, true);
    if (values.help) return printed(io, unloadHelp);
    const [model, version] = positionals(rest, 1, 2, '<model>');
    const target = resolveTarget(values, io.env, 'admin');
    if (version === undefined) await requestJson(target, 'POST', `/v2/repository/models/${seg(model!)}/unload`, {});
    else await requestJson(target, 'DELETE', `/admin/models/${seg(model!)}/versions/${seg(version)}`);
    io.stdout.write(`unloaded ${model}${version === undefined ? '' : ` version ${version}`}\n`);
    return 0;
  },
};
