import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { providersFromConfig } from '../../src/methods/external/providers.ts';
import { startTestServer } from '../support/server.ts';

const load = (env: Record<string, string>) =>
  providersFromConfig(loadConfig({ LATCHKEY_DATABASE_URL: ':memory:', ...env }));

describe('external provider configuration', () => {
  test('no provider is enabled by default, and /login then shows no buttons', async () => {
    assert.deepEqual(load({}), []);
    const server = await startTestServer();
    try {
      const login = await (await fetch(`${server.base}/login`)).text();
      assert.ok(!login.includes('/auth/'));
      const res = await fetch(`${server.base}/api/v1/providers`);
      assert.deepEqual(await res.json(), { providers: [] });
      const spec = (await (await fetch(`${server.base}/api/openapi.json`)).json()) as {
        paths: Record<string, unknown>;
      };
      for (const path of ['/api/v1/providers', '/api/v1/account/identities', '/api/v1/account/identities/{id}'])
        assert.ok(spec.paths[path], path);
    } finally {
      await server.close();
    }
  });

  test('Microsoft: the tenant picks the Azure AD / Entra ID issuer; an issuer override wins', () => {
    const base = { LATCHKEY_MICROSOFT_CLIENT_ID: 'id', LATCHKEY_MICROSOFT_CLIENT_SECRET: 'secret' };
    const [common] = load(base);
    assert.equal(common.kind === 'oidc' && common.issuer, 'https://login.microsoftonline.com/common/v2.0');
    const [tenant] = load({ ...base, LATCHKEY_MICROSOFT_TENANT: 'contoso.onmicrosoft.com' });
    assert.equal(
      tenant.kind === 'oidc' && tenant.issuer,
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0',
    );
    const [sovereign] = load({ ...base, LATCHKEY_MICROSOFT_ISSUER: 'https://login.microsoftonline.us/abc/v2.0' });
    assert.equal(sovereign.kind === 'oidc' && sovereign.issuer, 'https://login.microsoftonline.us/abc/v2.0');
    assert.throws(() => load({ ...base, LATCHKEY_MICROSOFT_TENANT: '../evil' }), /LATCHKEY_MICROSOFT_TENANT/);
  });

  test('half a client pair, or a generic provider without its issuer, is refused naming the variable', () => {
    assert.throws(
      () => load({ LATCHKEY_GITHUB_CLIENT_ID: 'x' }),
      (e: unknown) => e instanceof ConfigError && /LATCHKEY_GITHUB_CLIENT_SECRET/.test(e.message),
    );
    assert.throws(
      () => load({ LATCHKEY_OIDC_KEYCLOAK_CLIENT_ID: 'a', LATCHKEY_OIDC_KEYCLOAK_CLIENT_SECRET: 'b' }),
      (e: unknown) => e instanceof ConfigError && /LATCHKEY_OIDC_KEYCLOAK_ISSUER/.test(e.message),
    );
    assert.throws(
      () =>
        load({
          LATCHKEY_OIDC_CORP_ISSUER: 'http://idp.example',
          LATCHKEY_OIDC_CORP_CLIENT_ID: 'a',
          LATCHKEY_OIDC_CORP_CLIENT_SECRET: 'b',
        }),
      /LATCHKEY_OIDC_CORP_ISSUER: must be an https URL/,
    );
    assert.throws(() => load({ LATCHKEY_OIDC_CORP_TYPO: 'x' }), /LATCHKEY_OIDC_CORP_TYPO: unknown setting/);
    assert.throws(() => loadConfig({ LATCHKEY_GOOGLE_TYPO: 'x' }), /LATCHKEY_GOOGLE_TYPO: unknown setting/);
  });

  test('several generic providers, each with its own name', () => {
    const providers = load({
      LATCHKEY_OIDC_OKTA_ISSUER: 'https://dev-1.okta.com',
      LATCHKEY_OIDC_OKTA_CLIENT_ID: 'a',
      LATCHKEY_OIDC_OKTA_CLIENT_SECRET: 'b',
      LATCHKEY_OIDC_CORP_IDP_ISSUER: 'https://sso.corp.example/realms/main',
      LATCHKEY_OIDC_CORP_IDP_CLIENT_ID: 'c',
      LATCHKEY_OIDC_CORP_IDP_CLIENT_SECRET: 'd',
      LATCHKEY_OIDC_CORP_IDP_DISPLAY_NAME: 'Corp Keycloak',
    });
    assert.deepEqual(
      providers.map((p) => [p.id, p.name]),
      [
        ['oidc-okta', 'Okta'],
        ['oidc-corp-idp', 'Corp Keycloak'],
      ],
    );
  });
});
