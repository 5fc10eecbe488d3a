// Shapes of the server's answers that the console reads (src/http/routes/admin.ts and console.ts). The monitoring
// shapes are the server's own (src/observability/report-types.ts, a module without imports).
import type { DriftReport, SeriesPoints, WindowSummary } from '../../src/observability/report-types.js';

export type { FeatureDrift, PredictionDrift, SeriesPoints } from '../../src/observability/report-types.js';

export interface Shadow {
  version: string;
  fraction: number;
}

export interface TrafficView {
  weights: Record<string, number> | null;
  shadow: Shadow | null;
  revision: number;
  /** Without a table: the version that serves unversioned requests. */
  default_version?: string | null;
}

export interface AdminVersion {
  version: string;
  state: string;
  reason?: string;
  sha256: string | null;
  load_time: string | null;
  queue_depth: number;
}

export interface AdminModel {
  name: string;
  reason?: string;
  versions: AdminVersion[];
  traffic: TrafficView;
}

export interface AdminModels {
  models: AdminModel[];
}

export type StatsVersion = { version: string; state: string } & Partial<WindowSummary>;

export interface StatsResponse {
  window_seconds: number;
  sample_interval_seconds: number;
  models: { name: string; versions: StatsVersion[] }[];
}

export interface HistoryResponse {
  model_name: string;
  sample_interval_seconds: number;
  retain_seconds: number;
  versions: { version: string; state: string; points: SeriesPoints; batch_sizes: { batch_size: number; executions: number }[]; queue_depth: number }[];
}

export interface MonitoringResponse {
  model_name: string;
  model_version: string;
  state: string;
  task: 'classification' | 'regression' | null;
  drift: DriftReport | null;
  feedback: { rows: number; accuracy: number | null } | null;
  shadow: { requests: number; disagreements: number; agreement_rate: number | null } | null;
}

/** The share of unversioned traffic a version gets under this view (the default policy gives the default 100). */
export function weightOf(t: TrafficView, version: string): number {
  if (t.weights) return t.weights[version] ?? 0;
  return t.default_version === version ? 100 : 0;
}
