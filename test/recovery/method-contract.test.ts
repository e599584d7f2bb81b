import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { systemContext } from '../../src/context.ts';
import { RECOVERY_METHODS } from '../../src/deps.ts';
import type { RecoveryMethod } from '../../src/flows/recovery/method.ts';
import { MethodRegistry } from '../../src/methods/registry.ts';
import { keyedHash } from '../../src/security/hashing.ts';
import { newId } from '../../src/security/random.ts';
import { signedInUser, type User } from '../phone/helpers.ts';
import { startTestServer, strongPassword, type TestServer } from '../support/server.ts';

// DESIGN principle 10: a method is a folder plus one line. This throw-away method lives only in
// this file and joins the server through a registry built the way the composition root builds
// it; no other file names it, yet the chooser, the organization settings (page, API, OpenAPI),
// /settings, its route, its job and its flow-bound code all pick it up.
describe('a recovery method is its folder plus one line in the registry', () => {
  let server: TestServer;
  let admin: User;
  const CODE = '424242';
  const flown: string[] = [];

  const pigeon: RecoveryMethod = {
    id: 'pigeon_code',
    label: 'Send me a pigeon',
    byDefault: false,
    canDeliver: (account) => Boolean(account.email),
    requestedMessage: 'If an account matches, a pigeon is on its way.',
    codeHash: (d, row, code) => keyedHash(d.secret, `pigeon:${row.flow_id}:${row.account_id}`, code),
    settings: { pigeonTtl: { min: 60, max: 900, default: 300, label: 'Pigeon code lifetime (seconds)' } },
    page: {
      intro: 'Enter your username or email address. A pigeon brings you a code.',
      codeEntry: (_d, reply, o) =>
        reply.type('text/html; charset=utf-8').send(`<p>pigeon code page for flow ${o.flow}</p>`),
    },
    routes: [
      (app) =>
        app.get(
          '/api/v1/pigeon-loft',
          {
            schema: {
              tags: ['recovery'],
              summary: 'Where the pigeons live',
              response: { 200: Type.Object({ pigeons: Type.Integer() }) },
            },
          },
          async () => ({ pigeons: flown.length }),
        ),
    ],
    jobs: {
      'pigeon.fly': async (_d, payload) => {
        flown.push(String(payload.flow));
      },
    },
    async issue(d, trx, account, flowId) {
      const now = d.clock.now();
      const settings = await d.organizations.recoveryFor(account, trx);
      await trx
        .insertInto('recovery_codes')
        .values({
          id: newId(d.random),
          account_id: account.id,
          method: 'pigeon_code',
          flow_id: flowId,
          token_hash: null,
          code_hash: keyedHash(d.secret, `pigeon:${flowId}:${account.id}`, CODE),
          expires_at: now + 1000 * Number(settings.pigeonTtl),
          failed_attempts: 0,
          resends: 0,
          used_at: null,
          target: null,
          created_at: now,
        })
        .execute();
      await d.outbox.job(trx, { kind: 'pigeon.fly', payload: { flow: flowId } });
    },
  };

  const settingsPath = '/api/v1/organizations/default/recovery-settings';
  const page = async (path: string, c = server.client()) => (await c.get(path, { accept: 'text/html' })).text;

  before(async () => {
    server = await startTestServer({}, { recoveryMethods: [...RECOVERY_METHODS, pigeon] });
    admin = await signedInUser(server, 'pigeonadmin');
    await server.deps.organizations.addAdmin('default', 'pigeonadmin', 'owner', systemContext());
  });
  after(async () => {
    await server?.close();
  });

  test('WEB-04 the organization settings API takes the new method and its own setting; unknown ids and out-of-bounds values are a 400 and change nothing', async () => {
    const ok = await admin.c.put(settingsPath, { methods: ['pigeon_code', 'email_link'], pigeonTtl: 120 });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.methods, ['email_link', 'pigeon_code'], 'in the order of the registry');
    assert.equal(ok.json.pigeonTtl, 120);
    assert.equal(ok.json.emailLinkTtl, 1800, 'the built-in settings are still there');
    for (const bad of [
      { methods: ['carrier_owl'] },
      { methods: ['pigeon_code', 'owl_code'] },
      { pigeonTtl: 59 },
      { pigeonTtl: 901 },
    ]) {
      const res = await admin.c.put(settingsPath, bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
    const now = await admin.c.get(settingsPath);
    assert.deepEqual(now.json.methods, ['email_link', 'pigeon_code']);
    assert.equal(now.json.pigeonTtl, 120);
  });

  test('the OpenAPI document lists its id among the settings methods, its setting with bounds, and its route', async () => {
    const doc = (await server.client().get('/api/openapi.json')).json;
    const put = doc.paths['/api/v1/organizations/{slug}/recovery-settings'].put;
    const body = put.requestBody.content['application/json'].schema;
    const items = body.properties.methods.items;
    // one literal per method: TypeBox writes `const`, the OpenAPI document shows each as a one-value `enum`
    const ids = items.enum ?? items.anyOf.flatMap((s: { enum?: string[]; const?: string }) => s.enum ?? [s.const]);
    assert.deepEqual(ids, ['email_link', 'email_otp', 'sms_otp', 'pigeon_code']);
    assert.equal(body.properties.methods.maxItems, 4);
    assert.equal(body.properties.pigeonTtl.minimum, 60);
    assert.equal(body.properties.pigeonTtl.maximum, 900);
    assert.equal(body.properties.pigeonTtl.description, 'Pigeon code lifetime (seconds)');
    const get = doc.paths['/api/v1/organizations/{slug}/recovery-settings'].get;
    assert.ok(get.responses['200'].content['application/json'].schema.properties.pigeonTtl);
    assert.ok(doc.paths['/api/v1/pigeon-loft']?.get, 'the route the method registers');
    const pick =
      doc.paths['/api/v1/password-resets'].post.requestBody.content['application/json'].schema.properties.method;
    assert.match(pick.description, /'pigeon_code'/);
  });

  test('ENUM-02 the chooser, the organization settings page and /settings offer it by its label', async () => {
    await admin.c.put(settingsPath, { methods: ['email_link', 'pigeon_code'] });
    let html = await page('/forgot-password');
    assert.equal(html.match(/type="radio"/g)?.length, 2);
    assert.match(html, /<input type="radio" id="method-pigeon_code" name="method" value="pigeon_code"/);
    assert.match(html, /Send me a pigeon/);
    await admin.c.put(settingsPath, { methods: ['pigeon_code'] });
    html = await page('/forgot-password');
    assert.match(html, /<input type="hidden" name="method" value="pigeon_code"/);
    assert.match(html, /A pigeon brings you a code/);
    const orgPage = await page('/admin/organization', admin.c);
    assert.match(orgPage, /<input type="checkbox" id="m-pigeon_code" name="methods" value="pigeon_code" checked/);
    assert.match(orgPage, /Pigeon code lifetime \(seconds\)/);
    assert.match(orgPage, /name="pigeonTtl" type="number" inputmode="numeric" min="60" max="900" value="120"/);
    assert.match(await page('/settings', admin.c), /<li>Send me a pigeon<\/li>/);
  });

  test('OTP-03 a request that picks it issues its flow-bound code (its own lifetime), runs its job, shows its code page, and the code completes the reset', async () => {
    await admin.c.put(settingsPath, { methods: ['email_link', 'pigeon_code'] });
    const res = await server.client().form('/forgot-password', { identifier: admin.username, method: 'pigeon_code' });
    assert.equal(res.status, 200);
    const flow = /pigeon code page for flow (\S+)</.exec(res.text)?.[1];
    assert.ok(flow, res.text);
    const deadline = Date.now() + 10_000;
    while (!flown.includes(flow) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(flown.includes(flow), 'its job ran for this flow');
    const row = await server.deps.db
      .selectFrom('recovery_codes')
      .selectAll()
      .where('flow_id', '=', flow)
      .executeTakeFirstOrThrow();
    assert.equal(row.method, 'pigeon_code');
    assert.equal(row.expires_at - row.created_at, 120_000, 'the organization’s pigeonTtl');
    const c = server.client();
    const wrongFlow = await c.post('/api/v1/password-resets/complete', {
      identifier: admin.username,
      code: CODE,
      password: strongPassword(),
    });
    assert.equal(wrongFlow.status, 400, 'a flow-bound code needs its flow');
    const done = await c.post('/api/v1/password-resets/complete', {
      identifier: admin.username,
      code: CODE,
      flow,
      password: strongPassword(),
    });
    assert.equal(done.status, 200, done.text);
    const used = await server.deps.db
      .selectFrom('recovery_codes')
      .select('used_at')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    assert.ok(used.used_at);
  });

  test('a clash in the method list fails start: a repeated id, a bad id, one setting with two bounds, one job kind with two runners', () => {
    assert.throws(() => new MethodRegistry([...RECOVERY_METHODS, RECOVERY_METHODS[0]]), /listed twice/);
    assert.throws(() => new MethodRegistry([{ ...pigeon, id: 'Pigeon Code' }]), /method id "Pigeon Code"/);
    const otpLength = { min: 4, max: 6, default: 4, label: 'Pigeon code length' };
    assert.throws(
      () => new MethodRegistry([...RECOVERY_METHODS, { ...pigeon, settings: { otpLength } }]),
      /setting "otpLength" has two different bounds/,
    );
    const owl = { ...pigeon, id: 'owl_code', jobs: { 'pigeon.fly': async () => {} } };
    assert.throws(() => new MethodRegistry([pigeon, owl]), /job "pigeon.fly" has two runners/);
    // the same runner listed by two methods (like the OTP resend) is one job
    assert.equal(new MethodRegistry([pigeon, { ...pigeon, id: 'owl_code' }]).jobs().length, 1);
  });
});
