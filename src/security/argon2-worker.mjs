// One password-hashing thread (see hash-threads.ts). Plain JavaScript so that it starts without
// the TypeScript loader. Each message is one job; the next queued job starts as soon as this one
// returns, without waiting for the main thread.
import { parentPort } from 'node:worker_threads';
import { hashSync, verifySync } from '@node-rs/argon2';

parentPort.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? hashSync(job.password, job.params) : verifySync(job.stored, job.password);
    parentPort.postMessage({ id: job.id, value });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
});
