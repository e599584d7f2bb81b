import { AppError } from '../../errors.ts';
import { t } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import { newToken } from '../../security/random.ts';
import { seal, unseal } from '../../security/sealed.ts';
import {
  deleteClient,
  findClient,
  insertClient,
  listClients,
  type OidcClientRow,
  updateClient,
} from '../../store/oidc-store.ts';

// Relying parties, registered by the operator (`latchkey clients add`, /admin/clients): there is
// no dynamic registration. Secrets are shown once and stored encrypted (oidc-provider compares
// the presented secret with the stored one, so a one-way hash would not do).

export type ClientsDeps = Pick<Kernel, 'db' | 'clock' | 'random' | 'secret'>;

const PURPOSE = 'oidc-client-secret';

export interface ClientInput {
  name: string;
  redirectUris: string[];
  public?: boolean;
  firstParty?: boolean;
  backchannelLogoutUri?: string | null;
  postLogoutRedirectUris?: string[];
}

export interface ClientView {
  id: string;
  name: string;
  public: boolean;
  firstParty: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  createdAt: number;
}

/** Which URI of a client a problem is about (the messages' `what`). */
type UriKind = 'redirect' | 'post_logout' | 'backchannel';

function checkUri(uri: string, what: UriKind): string {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new AppError('validation_failed', t('apps.client.uri_absolute', { what, uri }));
  }
  // OP-01: exact matching needs an exact URI; fragments never reach a server.
  if (u.hash || uri.length > 2000)
    throw new AppError('validation_failed', t('apps.client.uri_fragment', { what, uri }));
  const loopback = u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]';
  // RFC 8252: native apps may use a private-use scheme (reverse domain name, hence the dot).
  const ok =
    u.protocol === 'https:' ||
    (u.protocol === 'http:' && loopback) ||
    /^[a-z][a-z0-9+-]*\.[a-z0-9.+-]+:$/.test(u.protocol);
  if (!ok) throw new AppError('validation_failed', t('apps.client.uri_https', { what, uri }));
  return uri;
}

function validName(name: string): string {
  const n = name.trim();
  if (!n || n.length > 100 || /\p{Cc}/u.test(n)) throw new AppError('validation_failed', t('apps.client.name_length'));
  return n;
}

export function clientView(r: OidcClientRow): ClientView {
  return {
    id: r.id,
    name: r.name,
    public: r.secret_enc === null,
    firstParty: r.first_party === 1,
    redirectUris: JSON.parse(r.redirect_uris),
    postLogoutRedirectUris: JSON.parse(r.post_logout_redirect_uris),
    backchannelLogoutUri: r.backchannel_logout_uri,
    createdAt: r.created_at,
  };
}

/** The metadata oidc-provider validates and uses for a registered client. */
export function clientMetadata(secret: string, r: OidcClientRow): Record<string, unknown> {
  const v = clientView(r);
  return {
    client_id: v.id,
    client_name: v.name,
    ...(r.secret_enc
      ? { client_secret: unseal(secret, PURPOSE, r.secret_enc), token_endpoint_auth_method: 'client_secret_basic' }
      : { token_endpoint_auth_method: 'none' }),
    redirect_uris: v.redirectUris,
    post_logout_redirect_uris: v.postLogoutRedirectUris,
    ...(v.backchannelLogoutUri ? { backchannel_logout_uri: v.backchannelLogoutUri } : {}),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    latchkey_first_party: v.firstParty,
  };
}

export class ClientRegistry {
  constructor(private readonly d: ClientsDeps) {}

  /** Registers a client; the secret (confidential clients only) is returned this once. */
  async add(input: ClientInput): Promise<{ client: ClientView; secret?: string }> {
    const redirectUris = input.redirectUris.map((u) => checkUri(u, 'redirect'));
    if (!redirectUris.length) throw new AppError('validation_failed', t('apps.client.need_redirect'));
    const now = this.d.clock.now();
    const secret = input.public ? undefined : newToken(this.d.random, 32);
    const row: OidcClientRow = {
      id: newToken(this.d.random, 16),
      name: validName(input.name),
      secret_enc: secret ? seal(this.d.secret, PURPOSE, secret) : null,
      redirect_uris: JSON.stringify(redirectUris),
      post_logout_redirect_uris: JSON.stringify(
        (input.postLogoutRedirectUris ?? []).map((u) => checkUri(u, 'post_logout')),
      ),
      backchannel_logout_uri: input.backchannelLogoutUri ? checkUri(input.backchannelLogoutUri, 'backchannel') : null,
      first_party: input.firstParty ? 1 : 0,
      created_at: now,
      updated_at: now,
    };
    await insertClient(this.d.db, row);
    return { client: clientView(row), secret };
  }

  async list(): Promise<ClientView[]> {
    return (await listClients(this.d.db)).map(clientView);
  }

  async get(id: string): Promise<ClientView | undefined> {
    const r = await findClient(this.d.db, id);
    return r && clientView(r);
  }

  async edit(id: string, input: Partial<ClientInput>): Promise<ClientView> {
    const set: Parameters<typeof updateClient>[2] = { updated_at: this.d.clock.now() };
    if (input.name !== undefined) set.name = validName(input.name);
    if (input.redirectUris !== undefined) {
      if (!input.redirectUris.length) throw new AppError('validation_failed', t('apps.client.need_redirect'));
      set.redirect_uris = JSON.stringify(input.redirectUris.map((u) => checkUri(u, 'redirect')));
    }
    if (input.postLogoutRedirectUris !== undefined)
      set.post_logout_redirect_uris = JSON.stringify(
        input.postLogoutRedirectUris.map((u) => checkUri(u, 'post_logout')),
      );
    if (input.backchannelLogoutUri !== undefined)
      set.backchannel_logout_uri = input.backchannelLogoutUri
        ? checkUri(input.backchannelLogoutUri, 'backchannel')
        : null;
    if (input.firstParty !== undefined) set.first_party = input.firstParty ? 1 : 0;
    if (!(await updateClient(this.d.db, id, set))) throw new AppError('not_found', t('apps.client.no_such_client'));
    return (await this.get(id)) as ClientView;
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret(id: string): Promise<string> {
    const r = await findClient(this.d.db, id);
    if (!r) throw new AppError('not_found', t('apps.client.no_such_client'));
    if (r.secret_enc === null) throw new AppError('validation_failed', t('apps.client.public_no_secret'));
    const secret = newToken(this.d.random, 32);
    await updateClient(this.d.db, id, {
      secret_enc: seal(this.d.secret, PURPOSE, secret),
      updated_at: this.d.clock.now(),
    });
    return secret;
  }

  /** Removes the client and every grant and token issued to it. */
  async remove(id: string): Promise<void> {
    if (!(await deleteClient(this.d.db, id))) throw new AppError('not_found', t('apps.client.no_such_client'));
  }
}
