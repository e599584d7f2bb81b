import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { withLazyChildren } from '../../src/web/request-logger.ts';

// Request loggers are made on first use (src/web/request-logger.ts); what they write must be
// what a pino child per request would have written: the request id on every line.

test('per-request loggers made on first use still carry the request id and their level', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const root = pino({ level: 'info' }, sink);
  let made = 0;
  // pino children inherit from their parent, so this counts children made at any depth.
  const child = root.child;
  root.child = function (this: typeof root, ...args: Parameters<typeof root.child>) {
    made++;
    return child.apply(this, args);
  } as typeof root.child;
  let n = 0;
  const app = Fastify({
    loggerInstance: withLazyChildren(root as unknown as FastifyBaseLogger),
    disableRequestLogging: true,
    genReqId: () => `r${++n}`,
  });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/loud', async (req) => {
    req.log.info({ marker: 'loud' }, 'from the route');
    req.log.debug('below the level');
    req.log.child({ step: 'inner' }).warn('nested');
    return { ok: true };
  });
  await app.ready();
  // The first request makes Fastify's app-level child (its serializers) for good.
  assert.equal((await app.inject('/quiet')).statusCode, 200);
  const madeAtStart = made;
  for (let i = 0; i < 4; i++) assert.equal((await app.inject('/quiet')).statusCode, 200);
  assert.equal(made, madeAtStart, 'requests that log nothing make no pino child');
  assert.equal((await app.inject('/loud')).statusCode, 200);
  const loud = lines.find((l) => l.marker === 'loud');
  assert.equal(loud?.reqId, 'r6');
  assert.equal(loud?.msg, 'from the route');
  assert.ok(!lines.some((l) => l.msg === 'below the level'));
  const nested = lines.find((l) => l.msg === 'nested');
  assert.equal(nested?.reqId, 'r6', "a child of a request's logger keeps the request id");
  assert.equal(nested?.step, 'inner');
  await app.close();
});
