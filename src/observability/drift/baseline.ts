// baseline.json: the training data's bin edges and proportions per input feature (and of the predictions), written
// by scripts/train_models.py. Validated here once, at load; the drift code then trusts it.
// Invariant of a parsed baseline: every edges array is strictly ascending and finite, every proportions array has
// edges.length + 1 non-negative entries summing to 1 (within 1e-3).
import { z } from 'zod';
import { formatIssues } from '../../config/format-issues.js';

const SUM_TOLERANCE = 1e-3;

export interface Baseline {
  rows: number;
  features: Record<string, Record<string, { edges: number[]; proportions: number[] }>>;
  prediction?: { classes?: number[]; edges?: number[]; proportions?: number[] };
}

const proportionsSchema = z
  .array(z.number().min(0))
  .min(1)
  .refine((p) => Math.abs(p.reduce((a, b) => a + b, 0) - 1) <= SUM_TOLERANCE, { message: 'proportions must sum to 1' });

const edgesSchema = z
  .array(z.number())
  .refine((e) => e.every((v, i) => i === 0 || e[i - 1]! < v), { message: 'edges must be strictly ascending' });

/** Adds an issue at `path` unless proportions has one more entry than edges. */
function checkBinCount(edges: number[], proportions: number[], ctx: z.RefinementCtx): void {
  if (proportions.length === edges.length + 1) return;
  ctx.addIssue({ code: 'custom', path: ['proportions'], message: `expected ${edges.length + 1} proportions (one more than the ${edges.length} edges), got ${proportions.length}` });
}

const binsSchema = z
  .object({ edges: edgesSchema, proportions: proportionsSchema })
  .superRefine((b, ctx) => checkBinCount(b.edges, b.proportions, ctx));

const predictionSchema = z
  .object({ classes: proportionsSchema.optional(), edges: edgesSchema.optional(), proportions: proportionsSchema.optional() })
  .superRefine((p, ctx) => {
    if ((p.edges === undefined) !== (p.proportions === undefined)) {
      ctx.addIssue({ code: 'custom', path: [p.edges ? 'proportions' : 'edges'], message: 'edges and proportions go together' });
    } else if (p.edges && p.proportions) checkBinCount(p.edges, p.proportions, ctx);
  });

export const baselineSchema = z.object({
  rows: z.number().int().min(1),
  features: z.record(z.string(), z.record(z.string(), binsSchema)),
  prediction: predictionSchema.optional(),
});

/** Validates a parsed baseline.json; throws an Error listing every problem as "path: message". */
export function parseBaseline(json: unknown): Baseline {
  const parsed = baselineSchema.safeParse(json);
  if (!parsed.success) throw new Error(`invalid baseline: ${formatIssues(parsed.error.issues).join('; ')}`);
  return parsed.data;
}
