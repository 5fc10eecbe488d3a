// POST /v2/models/{m}/feedback {"id": "<id of an earlier inference response>", "labels": [one truth per row]}
// -> 202. Labels are class indices or class labels (classifiers) or numbers (regression). Unknown or forgotten
// id -> 404; a labels array of the wrong length -> 400.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { formatIssues } from '../../config/format-issues.js';
import { ERR_BAD_REQUEST, ERR_FEEDBACK_NOT_FOUND } from '../../errors.js';
import type { ModelManager } from '../../lifecycle/model-manager.js';
import type { FeedbackStore, FeedbackTarget } from '../../observability/feedback.js';

const bodySchema = z.object({
  id: z.string().min(1).max(256),
  labels: z.array(z.union([z.number(), z.string().max(256)])).min(1).max(1_000_000),
});

interface Params {
  model: string;
}

/** Truth per row as numbers: class indices for classifiers (labels resolved by name), values for regression. */
export function truthsOf(target: FeedbackTarget, labels: (number | string)[]): Float64Array {
  const out = new Float64Array(labels.length);
  labels.forEach((label, i) => {
    if (target.task === 'regression') {
      if (typeof label !== 'number' || !Number.isFinite(label)) throw new ERR_BAD_REQUEST(`labels[${i}] must be a number for a regression model`);
      out[i] = label;
      return;
    }
    if (typeof label === 'number') {
      if (!Number.isInteger(label) || label < 0) throw new ERR_BAD_REQUEST(`labels[${i}] must be a class index (a non-negative integer) or a class label`);
      if (target.classCount !== undefined && label >= target.classCount) throw new ERR_BAD_REQUEST(`labels[${i}] is class ${label} but the model has ${target.classCount} classes (0..${target.classCount - 1})`);
      out[i] = label;
      return;
    }
    const index = target.classLabels?.indexOf(label) ?? -1;
    if (index < 0) {
      const known = target.classLabels ? `one of ${target.classLabels.map((l) => JSON.stringify(l)).join(', ')}` : 'a class index (the model has no class labels in config.json)';
      throw new ERR_BAD_REQUEST(`labels[${i}] ${JSON.stringify(label)} is not a known class; use ${known}`);
    }
    out[i] = index;
  });
  return out;
}

export async function feedbackRoutes(app: FastifyInstance, opts: { manager: ModelManager; feedback: FeedbackStore }): Promise<void> {
  const { manager, feedback } = opts;
  app.post<{ Params: Params }>('/v2/models/:model/feedback', { config: { auth: 'predict' } }, async (req: FastifyRequest<{ Params: Params }>, reply) => {
    manager.getModel(req.params.model);
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) throw new ERR_BAD_REQUEST(`invalid feedback: ${formatIssues(parsed.error.issues).join('; ')}`);
    const { id, labels } = parsed.data;
    const pending = feedback.take(req.params.model, id);
    if (!pending) throw new ERR_FEEDBACK_NOT_FOUND(req.params.model, id);
    if (labels.length !== pending.predictions.length) {
      feedback.remember(id, pending);
      throw new ERR_BAD_REQUEST(`labels has ${labels.length} entries but response '${id}' had ${pending.predictions.length} rows`);
    }
    let truths: Float64Array;
    try {
      truths = truthsOf(pending.target, labels);
    } catch (err) {
      feedback.remember(id, pending);
      throw err;
    }
    pending.target.recordFeedback(pending.predictions, truths);
    return reply.code(202).send({ id, rows: labels.length });
  });
}
