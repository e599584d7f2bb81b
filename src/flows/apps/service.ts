import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { RequestContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import { accountGrants, deleteExpiredPayloads, findClient, revokeGrants } from '../../store/oidc-store.ts';
import type { SessionPort } from '../../web/request.ts';
import { ClientRegistry } from './clients.ts';
import { type Jwk, loadSigningKeys, rotateSigningKey, type SigningKeys } from './keys.ts';
import { buildProvider, type OidcProviderLib, OP_PREFIX } from './provider.ts';
import { BACKCHANNEL_JOB } from './revoke.ts';

/** What this module uses of the container the composition root builds. */
export type AppsDeps = Pick<
  Kernel,
  'config' | 'db' | 'clock' | 'random' | 'secret' | 'log' | 'worker' | 'outbox' | 'audit'
> & { sessions: SessionPort };

export interface AppView {
  clientId: string;
  name: string;
  scopes: string[];
  grantedAt: number;
}

const CLEAN_EVERY_MS = 10 * 60_000;
const BACKCHANNEL_TIMEOUT_MS = 5_000;

/**
 * Latchkey as OpenID Provider: the provider instance (rebuilt when another process rotates the
 * signing keys), the registered clients, the apps an account has signed in to, and the
 * back-channel logout job the outbox runs (OP-04).
 */
export class AppsService {
  readonly clients: ClientRegistry;
  private current?: { provider: Provider; keys: SigningKeys };
  private timers: NodeJS.Timeout[] = [];
  /** oidc-provider, imported when the provider starts: on import it warns about Node 20, which
   * would otherwise precede every command's output (configuration errors included). */
  private lib?: OidcProviderLib;

  constructor(private readonly d: AppsDeps) {
    this.clients = new ClientRegistry(d);
  }

  get issuer(): string {
    return `${this.d.config.publicUrl}${OP_PREFIX}`;
  }

  get provider(): Provider {
    if (!this.current) throw new Error('the OpenID Provider is not started');
    return this.current.provider;
  }

  get keys(): SigningKeys {
    if (!this.current) throw new Error('the OpenID Provider is not started');
    return this.current.keys;
  }

  /** Loads (or generates) the signing keys and builds the provider; starts housekeeping. */
  async start(): Promise<void> {
    await this.reload();
    this.d.worker.registerJob(BACKCHANNEL_JOB, (payload) => this.deliverBackchannelLogout(payload));
    const clean = setInterval(() => {
      deleteExpiredPayloads(this.d.db, this.d.clock.now()).catch((err) =>
        this.d.log.warn({ err }, 'cleaning expired OpenID Provider rows failed'),
      );
    }, CLEAN_EVERY_MS);
    const reload = setInterval(() => {
      this.reload().catch((err) => this.d.log.warn({ err }, 'reloading the signing keys failed'));
    }, this.d.config.op.keyReload);
    clean.unref();
    reload.unref();
    this.timers.push(clean, reload);
    await deleteExpiredPayloads(this.d.db, this.d.clock.now());
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Picks up a key rotation made by `latchkey keys rotate` (or another process). */
  async reload(): Promise<boolean> {
    const keys = await loadSigningKeys(this.d);
    if (this.current && this.current.keys.version === keys.version) return false;
    this.lib ??= await import('oidc-provider');
    this.current = { provider: buildProvider(this.d, keys, this.lib), keys };
    return true;
  }

  async rotateKeys(): Promise<{ kid: string; retired: number }> {
    const r = await rotateSigningKey(this.d);
    if (this.current) await this.reload();
    return r;
  }

  /** The apps (clients) the account has granted access to, for /settings (OP-06). */
  async appsOf(accountId: string): Promise<AppView[]> {
    const grants = await accountGrants(this.d.db, accountId, this.d.clock.now());
    const out: AppView[] = [];
    for (const g of grants) {
      const client = await findClient(this.d.db, g.clientId);
      if (!client) continue;
      const p = JSON.parse(g.payload) as { openid?: { scope?: string }; iat?: number };
      out.push({
        clientId: client.id,
        name: client.name,
        scopes: (p.openid?.scope ?? '').split(' ').filter(Boolean),
        grantedAt: (p.iat ?? 0) * 1000,
      });
    }
    return out;
  }

  /** "Revoke access" on /settings: the app's grants for this account, with their tokens. */
  async revokeApp(accountId: string, clientId: string, ctx: RequestContext): Promise<void> {
    const grants = (await accountGrants(this.d.db, accountId, 0)).filter((g) => g.clientId === clientId);
    if (!grants.length) throw new AppError('not_found', t('apps.no_such_app'));
    await revokeGrants(
      this.d.db,
      grants.map((g) => g.grantId),
    );
    await this.d.audit.record('oidc.access_revoked', ctx, { accountId, details: { clientId, reason: 'user' } });
  }

  /** A logout token (OpenID Back-Channel Logout 1.0 §2.4), signed with the current key. */
  logoutToken(clientId: string, sub: string, sid: string | undefined): string {
    const key = this.keys.private[0] as Jwk;
    const now = Math.floor(this.d.clock.now() / 1000);
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = enc({ alg: 'RS256', kid: key.kid, typ: 'logout+jwt' });
    const claims = enc({
      iss: this.issuer,
      aud: clientId,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      sub,
      ...(sid ? { sid } : {}),
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    });
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), createPrivateKey({ key, format: 'jwk' }));
    return `${header}.${claims}.${signature.toString('base64url')}`;
  }

  /** The outbox job: POST the logout token; anything but 2xx throws, so the outbox retries. */
  private async deliverBackchannelLogout(payload: Record<string, unknown>): Promise<void> {
    const clientId = String(payload.clientId);
    const client = await findClient(this.d.db, clientId);
    if (!client?.backchannel_logout_uri) return;
    const token = this.logoutToken(
      clientId,
      String(payload.sub),
      typeof payload.sid === 'string' ? payload.sid : undefined,
    );
    const res = await fetch(client.backchannel_logout_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(BACKCHANNEL_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`back-channel logout answered ${res.status}`);
  }
}
