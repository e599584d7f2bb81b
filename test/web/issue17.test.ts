import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { systemContext } from '../../src/context.ts';
import { PHONE_EXAMPLE, parseMobile } from '../../src/flows/phone/numbers.ts';
import { signedInUser } from '../phone/helpers.ts';
import { withServer } from '../support/fixture.ts';

// Issue 17's page defects, over HTTP (the browser half is test/browser/pages17.test.ts).

describe('issue 17 page defects over HTTP', () => {
  const fx = withServer();
  before(async () => {
    await fx.server.deps.organizations.create(
      { slug: 'acme', name: 'Acme', displayName: 'Acme Sign-in' },
      systemContext(),
    );
  });

  test('17-4 phone example: every example shown (hint, OpenAPI, error) passes the validator', async () => {
    const examples = new Set<string>([PHONE_EXAMPLE]);
    const collect = (text: string) => {
      for (const m of text.matchAll(/for example (\+[\d ]+\d)|e\.g\. (\+\d+)/g)) examples.add(m[1] ?? m[2]);
    };
    const u = await signedInUser(fx.server, 'phoneex');
    collect((await u.c.get('/settings', { accept: 'text/html' })).text);
    const api = await fx.server.client().get('/api/openapi.json');
    const op = api.json.paths['/api/v1/account/phone'].put;
    const phoneSchema = op.requestBody.content['application/json'].schema.properties.phone;
    collect(phoneSchema.description);
    for (const e of phoneSchema.examples ?? []) examples.add(e);
    const bad = await u.c.put('/api/v1/account/phone', { phone: '12' });
    assert.equal(bad.status, 400);
    collect(JSON.stringify(bad.json));
    const page = await u.c.form('/settings/phone', { phone: 'nonsense' });
    collect(page.text);
    assert.ok(examples.size >= 2, `examples found: ${[...examples]}`);
    for (const e of examples) assert.doesNotThrow(() => parseMobile(e), `example ${e} is refused by the validator`);
  });
});
