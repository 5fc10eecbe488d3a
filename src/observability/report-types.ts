// The JSON shapes of the monitoring answers (drift, the console's stats and history), in one module with no imports
// so that the browser console (console/src) can import the same types as the server that writes them.

/** One column binned against its reference: what every drift answer has. */
export interface BinnedComparison {
  psi: number | null;
  edges: number[];
  reference: number[];
  current: number[];
  reference_rows: number;
  current_rows: number;
}

export interface FeatureDrift extends BinnedComparison {
  input: string;
  feature: string;
  /** Where this feature's reference comes from (a baseline without this feature falls back to the first rows). */
  reference_source: 'baseline' | 'first_rows';
}

export interface PredictionDrift extends Omit<BinnedComparison, 'edges'> {
  kind: 'classes' | 'values';
  labels?: string[];
  edges?: number[];
}

export interface DriftReport {
  reference: 'baseline' | 'first_rows';
  reference_complete: boolean;
  /** Sorted by psi descending, nulls last. */
  features: FeatureDrift[];
  prediction: PredictionDrift | null;
}

/** Per-interval values between consecutive samples, for charts (one entry per interval, `t` is its end). */
export interface SeriesPoints {
  t: number[];
  requests_per_second: number[];
  rows_per_second: number[];
  error_rate: (number | null)[];
  p50_ms: (number | null)[];
  p99_ms: (number | null)[];
  mean_ms: (number | null)[];
  queue_depth: number[];
}

/** Counters over a window ending now (read live, not from the last sample). */
export interface WindowSummary {
  window_seconds: number;
  requests: number;
  errors: number;
  error_rate: number | null;
  requests_per_second: number;
  rows_per_second: number;
  p50_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  queue_depth: number;
  /** Since the version loaded. */
  requests_total: number;
  rows_total: number;
  batch_sizes: { batch_size: number; executions: number }[];
  shadow: { requests: number; disagreements: number; agreement_rate: number | null };
}
