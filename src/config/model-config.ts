// The optional `<model>/config.json`: one strict zod schema (unknown keys are errors, so a typo is reported,
// not silently ignored). Every problem is listed in the ModelConfigError's message.
import { z } from 'zod';
import { formatIssues } from './format-issues.js';

const positiveInt = z.number().int().min(1);

export const sessionOptionsSchema = z.strictObject({
  intra_op_threads: positiveInt.max(64).optional(),
  inter_op_threads: positiveInt.max(64).optional(),
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
  allow_spinning: z.boolean().optional(),
  execution_mode: z.enum(['sequential', 'parallel']).optional(),
});

export const versionPolicySchema = z.union([
  z.strictObject({ all: z.strictObject({}) }),
  z.strictObject({ latest: z.strictObject({ num_versions: positiveInt }) }),
  z.strictObject({ specific: z.strictObject({ versions: z.array(positiveInt).min(1) }) }),
]);

export const modelConfigSchema = z.strictObject({
  task: z.enum(['classification', 'regression']).optional(),
  /** Class labels per classifier output name, in class-index order. */
  labels: z.record(z.string(), z.array(z.string()).min(1)).optional(),
  /** Feature names per rank-2 input name, in column order. */
  feature_names: z.record(z.string(), z.array(z.string()).min(1)).optional(),
  max_batch_size: z.number().int().min(0).optional(),
  max_queue_delay_ms: z.number().min(0).max(10_000).optional(),
  preferred_batch_sizes: z.array(positiveInt).min(1).optional(),
  max_queue_size: positiveInt.optional(),
  instance_count: positiveInt.max(64).optional(),
  session: sessionOptionsSchema.optional(),
  version_policy: versionPolicySchema.optional(),
});

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type SessionOptions = z.infer<typeof sessionOptionsSchema>;
export type VersionPolicy = z.infer<typeof versionPolicySchema>;

export class ModelConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is invalid: ${problems.join('; ')}`);
    this.name = 'ModelConfigError';
    this.problems = problems;
  }
}

/** Parses the text of a config.json; throws ModelConfigError naming the file and every problem. */
export function parseModelConfig(text: string, file: string): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError(file, [`not valid JSON (${(err as Error).message})`]);
  }
  const parsed = modelConfigSchema.safeParse(json);
  if (!parsed.success) throw new ModelConfigError(file, formatIssues(parsed.error.issues));
  return parsed.data;
}

/** Which of the versions found on disk the policy loads (default: all). */
export function selectVersions(policy: VersionPolicy | undefined, onDisk: number[]): number[] {
  const sorted = [...onDisk].sort((a, b) => a - b);
  if (policy === undefined || 'all' in policy) return sorted;
  if ('latest' in policy) return sorted.slice(-policy.latest.num_versions);
  const wanted = new Set(policy.specific.versions);
  return sorted.filter((v) => wanted.has(v));
}
