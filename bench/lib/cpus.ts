import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface Pinning {
  /** the CPU the measured server runs on */
  server: number;
  /** the CPUs left to this process, which runs the load generator */
  generator: string;
  all: string;
}

/**
 * Server on the last CPU, load generator on the others, when there are at least two and
 * `taskset` exists (BENCH_PIN=0 turns it off). Unpinned, the scheduler sometimes put both on
 * one core and the same build measured 30% apart from one run to the next; pinned, the
 * service and its yardstick get the same single core and the generator never competes with it.
 */
export function pinning(): Pinning | undefined {
  const n = availableParallelism();
  if (process.env.BENCH_PIN === '0' || n < 2) return undefined;
  if (spawnSync('taskset', ['-V']).status !== 0) return undefined;
  return { server: n - 1, generator: n === 2 ? '0' : `0-${n - 2}`, all: `0-${n - 1}` };
}

/** Moves this process (and so the load generator) onto `cpus`, e.g. '0' or '0-2'. */
export function pinSelf(cpus: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)]);
}
