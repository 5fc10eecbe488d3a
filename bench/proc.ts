// /proc readings shared by the bench: CPU ticks of a thread or process, and the machine's busy time, so that every
// figure can say how much of the machine something else was using while it was measured.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** Clock ticks per second of the utime/stime fields. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields after the `(comm)` of a /proc stat line; index 0 is field 3 (state). */
function statFields(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
}

/** utime+stime of /proc/<...>/stat (a process: all its threads; a task: that thread). */
export function cpuTicks(statFile: string): number {
  const f = statFields(statFile);
  return Number(f[11]) + Number(f[12]);
}

/** cutime+cstime of this process: grows by a child's CPU when it is reaped. */
export function reapedChildTicks(): number {
  const f = statFields('/proc/self/stat');
  return Number(f[13]) + Number(f[14]);
}

/**
 * The whole machine from /proc/stat: `busy` counts process time only (user, nice, system), not irq/softirq (where
 * the kernel accounts much of loopback TCP) nor steal; `interrupts` is irq+softirq; `total` is every field up to steal.
 */
export function machineTicks(): { busy: number; interrupts: number; total: number } {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (cpu[0] ?? 0) + (cpu[1] ?? 0) + (cpu[2] ?? 0), interrupts: (cpu[5] ?? 0) + (cpu[6] ?? 0), total: cpu.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/** Cores' worth of process time the machine spent between two machineTicks() samples. */
export function machineCores(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * os.availableParallelism();
}

/**
 * Waits until processes other than this one and `pids` use less than `threshold` cores over a one-second window,
 * for at most `maxSeconds`. Returns the seconds waited, or undefined when it gave up. A pid that is gone counts 0.
 */
export async function waitForQuiet(maxSeconds: number, pids: number[], threshold = 0.15): Promise<number | undefined> {
  const own = () => {
    let t = cpuTicks('/proc/self/stat');
    for (const pid of pids) {
      try {
        t += cpuTicks(`/proc/${pid}/stat`);
      } catch {
        // exited
      }
    }
    return t;
  };
  const start = performance.now();
  for (;;) {
    const m0 = machineTicks();
    const o0 = own();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const seconds = (performance.now() - t0) / 1000;
    const other = machineCores(m0, machineTicks()) - (own() - o0) / CLK_TCK / seconds;
    const waited = (performance.now() - start) / 1000;
    if (other < threshold) return waited - seconds;
    if (waited >= maxSeconds) return undefined;
  }
}
