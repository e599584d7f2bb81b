import { Worker } from 'node:worker_threads';

export type HashJob =
  | { op: 'hash'; password: string; params: Record<string, number> }
  | { op: 'verify'; stored: string; password: string };

interface Thread {
  worker: Worker;
  /** ids of the jobs sent to this thread and not answered yet */
  inHand: Set<number>;
}

/** Jobs a thread holds at once: the one it works on and the next, so it never waits for us. */
const IN_HAND = 2;

/**
 * Password hashing on threads of its own (argon2-worker.mjs), `size` of them. Measured on the
 * 2-CPU bench machine, in alternating slices of sign-in load (see bench/RESULTS.md):
 * - @node-rs/argon2's async functions use the libuv pool, four threads by default. Four hashes
 *   on two CPUs take turns and each works through its own 19 MiB, so every hash costs more CPU:
 *   two threads signed in a third more people per second than four.
 * - Letting only two of the four pool threads hash, from here, left a CPU idle 8 % of the time:
 *   after each hash it waited until the main thread, busy with requests, started the next.
 * - And a pool busy with hashes makes DNS lookups and file reads, which use the same pool,
 *   wait behind every queued hash.
 * Here each thread already holds its next job, so it goes straight on; the rest wait here, in
 * the order they came. A thread starts when a job finds every running one busy, and idle
 * threads do not keep the process alive.
 */
export class HashThreads {
  private threads: Thread[] = [];
  private readonly queue: { id: number; job: HashJob }[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('hash threads must be >= 1');
  }

  run<T>(job: HashJob): Promise<T> {
    if (this.closed) return Promise.reject(new Error('password hashing has stopped'));
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    if (this.pending.size === 1) for (const t of this.threads) t.worker.ref();
    this.queue.push({ id, job });
    this.dispatch();
    return answer;
  }

  /** Hashes being computed, and waiting for a thread. */
  get load(): { running: number; waiting: number } {
    const running = this.threads.filter((t) => t.inHand.size > 0).length;
    return { running, waiting: this.pending.size - running };
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads;
    this.threads = [];
    this.queue.length = 0;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error('password hashing has stopped'));
    }
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length && !this.closed) {
      // An idle thread first; else a new one, up to `size`; else the next job goes to a thread
      // that has only one in hand.
      let best = this.threads.find((t) => t.inHand.size === 0);
      if (!best && this.threads.length < this.size) {
        best = this.start();
        this.threads.push(best);
      }
      best ??= this.threads.find((t) => t.inHand.size < IN_HAND);
      if (!best) return;
      const { id, job } = this.queue.shift() as { id: number; job: HashJob };
      best.inHand.add(id);
      best.worker.postMessage({ id, ...job });
    }
  }

  private start(): Thread {
    // Plain JavaScript: no loader to inherit, so it starts in milliseconds.
    const worker = new Worker(new URL('./argon2-worker.mjs', import.meta.url), { execArgv: [] });
    const thread: Thread = { worker, inHand: new Set() };
    if (this.pending.size === 0) worker.unref();
    worker.on('message', (m: { id: number; value?: unknown; error?: string }) => {
      thread.inHand.delete(m.id);
      this.settle(m.id, m.error === undefined ? { value: m.value } : { error: new Error(m.error) });
      this.dispatch();
    });
    // A thread that dies takes only its own jobs with it; the next job starts a new one.
    const lost = (why: string) => {
      if (!this.threads.includes(thread)) return;
      this.threads = this.threads.filter((t) => t !== thread);
      for (const id of thread.inHand) this.settle(id, { error: new Error(`password hashing thread ${why}`) });
      thread.inHand.clear();
      if (this.queue.length) this.dispatch();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with ${code}`));
    return thread;
  }

  private settle(id: number, outcome: { value: unknown } | { error: Error }): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if ('error' in outcome) p.reject(outcome.error);
    else p.resolve(outcome.value);
    if (this.pending.size === 0) for (const t of this.threads) t.worker.unref();
  }
}
