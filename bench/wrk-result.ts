// The one reading of bench/wrk-infer.lua's output: its done() prints a line "BENCH_RESULT {json}" (latencies in
// microseconds, socket errors by kind, non-2xx answers as `status`). Used by run.ts, monitoring-cost.ts and replicas.ts.

export interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  status: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
}

/** The result line of wrk's output, parsed; undefined when wrk printed none (it failed or was killed). */
export function parseWrkResult(output: string): WrkResult | undefined {
  const line = output.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  return line === undefined ? undefined : (JSON.parse(line.slice('BENCH_RESULT '.length)) as WrkResult);
}

/** Socket errors of a run: connect, read, write and timeout. */
export function socketErrors(r: WrkResult): number {
  return r.connect + r.read + r.write + r.timeout;
}
