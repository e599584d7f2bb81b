import { readFileSync } from 'node:fs';

// Where a slice's CPU went. On a 2-CPU machine the load generator, the server's main thread and
// its hashing threads all share the same two cores, so a ratio of request rates alone cannot
// tell a slow service from a busy generator; CPU milliseconds per request can. Linux only
// (/proc); elsewhere the figures are left out.

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux this runs on (USER_HZ). */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system, every thread) a child process has used so far. */
function childCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after its last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The machine's idle and total ticks so far (every CPU). */
function machineTicks(): { idle: number; total: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = cpu.reduce((a, b) => a + b, 0);
    // idle + iowait: time no task wanted a CPU
    return { idle: (cpu[3] ?? 0) + (cpu[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export interface CpuShare {
  /**
   * CPU ms per request (or per hash) of each child process named, and of this one (`bench`): the
   * load generator in an HTTP slice, the hashing itself in a raw one.
   */
  msPerRequest: Record<string, number>;
  /** share of the machine's CPU time no task wanted, in % */
  idlePct: number;
}

/**
 * Runs `fn` and shares out the CPU it took: each child named in `children` (name → pid) and this
 * process, per unit of work (`units` reads the count off `fn`'s result).
 */
export async function withCpuShare<T>(
  children: Record<string, number>,
  fn: () => Promise<T>,
  units: (result: T) => number,
): Promise<{ result: T; cpu?: CpuShare }> {
  const before = Object.fromEntries(Object.entries(children).map(([name, pid]) => [name, childCpuMs(pid)]));
  const self0 = selfCpuMs();
  const m0 = machineTicks();
  const result = await fn();
  const m1 = machineTicks();
  const self1 = selfCpuMs();
  const n = units(result);
  if (!m0 || !m1 || !(n > 0)) return { result };
  const msPerRequest: Record<string, number> = {};
  for (const [name, pid] of Object.entries(children)) {
    const a = before[name];
    const b = childCpuMs(pid);
    if (a === undefined || b === undefined) return { result };
    msPerRequest[name] = roundMicro((b - a) / n);
  }
  msPerRequest.bench = roundMicro((self1 - self0) / n);
  const idlePct = Math.round((1000 * (m1.idle - m0.idle)) / Math.max(1, m1.total - m0.total)) / 10;
  return { result, cpu: { msPerRequest, idlePct } };
}

// to a tenth of a microsecond: a session check costs a few tens of them
const roundMicro = (x: number) => Math.round(x * 10_000) / 10_000;
