import type { Kysely } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { formatTime, renderMail, supportName } from '../../delivery/templates.ts';
import { AppError } from '../../errors.ts';
import type { SessionService } from '../../flows/sessions/service.ts';
import type { SignInResult, SignInService } from '../../flows/signin/service.ts';
import { currentLocale, t, withLocale } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { isoTime } from '../../security/clock.ts';
import { sha256 } from '../../security/hashing.ts';
import { checkUsername, normalizeEmail, usernameSkeleton, usernameTaken } from '../../security/identifiers.ts';
import { newId } from '../../security/random.ts';
import { type Account, findAccount, newAccountRow, refuseUsernameClash } from '../../store/accounts.ts';
import { defaultOrgId, type OrgStoreDeps } from '../../store/organizations.ts';
import { PASSKEY } from '../../store/passkeys.ts';
import type { Database } from '../../store/schema.ts';
import { useNonce } from '../../store/used-nonces.ts';
import type { Authenticated } from '../../web/auth.ts';
import { type Attempt, ExternalError, ProviderClient } from './client.ts';
import { type ExternalProfile, type Provider, providersFromConfig } from './providers.ts';
import { deriveUsernames } from './usernames.ts';

/** What this module uses of the container the composition root builds. */
export type ExternalDeps = Pick<
  Kernel,
  'config' | 'db' | 'engine' | 'clock' | 'random' | 'brand' | 'outbox' | 'audit' | 'guard'
> & { sessions: SessionService; signIn: SignInService } & OrgStoreDeps;

/** What the browser carries between start and callback, in a signed HttpOnly cookie (EXT-01). */
export interface Flow {
  /** provider id */
  p: string;
  state: string;
  nonce?: string;
  verifier: string;
  mode: 'signin' | 'link';
  /** the account being linked (link mode) */
  account?: string;
  returnTo?: string;
  /** started at, epoch ms */
  at: number;
}

export const FLOW_TTL_MS = 10 * 60_000;

export type Outcome =
  | { kind: 'signed_in'; signedIn: SignInResult; created: boolean }
  | { kind: 'email_taken'; provider: Provider }
  | { kind: 'linked'; provider: Provider; already: boolean };

export interface IdentityView {
  id: string;
  provider: string;
  providerName: string;
  displayName: string | null;
  email: string | null;
  linkedAt: string;
  lastUsedAt: string | null;
}

/**
 * Sign-in and linking with external accounts. Identities are found by (provider, subject) only,
 * never by email (EXT-03); an email that matches an existing account never merges (EXT-04);
 * linking and unlinking need a recent sign-in and send a notice (EXT-06, SES-07, LOG-03).
 */
export class ExternalAccounts {
  readonly providers: Provider[];
  private readonly clients = new Map<string, ProviderClient>();

  constructor(private readonly d: ExternalDeps) {
    this.providers = providersFromConfig(d.config);
    for (const p of this.providers)
      this.clients.set(
        p.id,
        new ProviderClient(p, `${d.config.publicUrl}/auth/${p.id}/callback`, d.config.external.timeoutMs),
      );
  }

  provider(id: string): Provider | undefined {
    return this.providers.find((p) => p.id === id);
  }

  private client(id: string): ProviderClient {
    const c = this.clients.get(id);
    if (!c) throw new AppError('not_found', t('external.provider_not_enabled'));
    return c;
  }

  /** Starts an attempt: the provider URL to send the browser to and the flow to bind to it. */
  async begin(
    providerId: string,
    o: { mode: 'signin' } | { mode: 'link'; auth: Authenticated },
    returnTo?: string,
  ): Promise<{ url: string; flow: Flow }> {
    const client = this.client(providerId);
    if (o.mode === 'link') this.d.sessions.requireRecentAuth(o.auth.session);
    const a: Attempt = await client.start();
    return {
      url: a.url,
      flow: {
        p: providerId,
        state: a.state,
        nonce: a.nonce,
        verifier: a.verifier,
        mode: o.mode,
        account: o.mode === 'link' ? o.auth.account.id : undefined,
        returnTo,
        at: this.d.clock.now(),
      },
    };
  }

  /**
   * The callback: checks the flow belongs to this provider and is fresh and unused, lets the
   * client validate the response, then signs in, creates an account, or links.
   */
  async finish(
    providerId: string,
    flow: Flow | undefined,
    callbackUrl: URL,
    auth: Authenticated | null,
    ctx: RequestContext,
  ): Promise<Outcome> {
    const provider = this.provider(providerId);
    if (!provider) throw new AppError('not_found', t('external.provider_not_enabled'));
    const now = this.d.clock.now();
    if (!flow || flow.p !== providerId || now - flow.at > FLOW_TTL_MS || now < flow.at)
      throw new ExternalError('state_mismatch', 'no matching sign-in attempt in this browser');
    if (callbackUrl.searchParams.get('state') !== flow.state)
      throw new ExternalError('state_mismatch', 'state does not match');
    // Each callback is a sign-in attempt and counts against the client's sign-in limit (BF-02).
    await this.d.guard.limit('sign_in', ctx);
    await this.spend(flow.state, flow.at);
    const profile = await this.client(providerId).finish(callbackUrl, flow);
    if (flow.mode === 'link') {
      if (!auth || auth.account.id !== flow.account)
        throw new AppError('unauthorized', t('external.error.link_signed_out'));
      this.d.sessions.requireRecentAuth(auth.session);
      return this.link(auth.account, provider, profile, ctx);
    }
    return this.signIn(provider, profile, ctx, flow.returnTo);
  }

  /** A callback works once, even in the browser that started it. */
  private async spend(state: string, at: number): Promise<void> {
    if (!(await useNonce(this.d.db, `external:${sha256(state)}`, at + FLOW_TTL_MS)))
      throw new ExternalError('state_mismatch', 'this sign-in attempt was already used');
  }

  private async signIn(
    provider: Provider,
    profile: ExternalProfile,
    ctx: RequestContext,
    returnTo?: string,
  ): Promise<Outcome> {
    const d = this.d;
    const method = `external:${provider.id}`;
    const known = await d.db
      .selectFrom('external_identities')
      .selectAll()
      .where('provider', '=', provider.id)
      .where('subject', '=', profile.subject)
      .executeTakeFirst();
    if (known) {
      const account = await findAccount(d.db, known.account_id);
      if (!account) throw new AppError('invalid_credentials');
      await d.db
        .updateTable('external_identities')
        .set({ last_used_at: d.clock.now() })
        .where('id', '=', known.id)
        .execute();
      return {
        kind: 'signed_in',
        signedIn: await d.signIn.complete(account, { method, amr: ['fed'] }, ctx, { returnTo }),
        created: false,
      };
    }
    // ID-01: the provider's address is normalised like a typed one, so it meets the same account.
    const email = profile.verifiedEmail ? normalizeEmail(profile.verifiedEmail) : undefined;
    if (email && (await d.db.selectFrom('accounts').select('id').where('email_key', '=', email).executeTakeFirst())) {
      // EXT-04: the address is taken; the owner must sign in to that account and link from there.
      await d.audit.record('external.sign_in_refused', ctx, {
        details: { provider: provider.id, reason: 'email_in_use' },
      });
      return { kind: 'email_taken', provider };
    }
    const account = await this.createAccount(provider, profile, email, ctx);
    return {
      kind: 'signed_in',
      signedIn: await d.signIn.complete(account, { method, amr: ['fed'] }, ctx, { returnTo }),
      created: true,
    };
  }

  /** A new active account from the provider's public profile, without a password. */
  private async createAccount(
    provider: Provider,
    profile: ExternalProfile,
    email: string | undefined,
    ctx: RequestContext,
  ): Promise<Account> {
    const d = this.d;
    // A new account is a registration, whichever way it arrives.
    await d.guard.limit('registration', ctx);
    const orgId = await defaultOrgId(d);
    for (const username of await this.freeUsernames(profile)) {
      const now = d.clock.now();
      const account = newAccountRow({
        id: newId(d.random),
        org_id: orgId,
        username,
        email: email ?? null,
        status: 'active',
        password_hash: null,
        display_name: profile.displayName?.slice(0, 100) ?? null,
        created_at: now,
        activated_at: now,
      });
      try {
        await d.db.transaction().execute(async (trx) => {
          await trx.insertInto('accounts').values(account).execute();
          await this.insertIdentity(trx, account.id, provider, profile);
          await d.audit.record(
            'account.registered',
            ctx,
            { accountId: account.id, details: { method: `external:${provider.id}` } },
            trx,
          );
        });
        return account;
      } catch (err) {
        if (!/unique|duplicate/i.test(String((err as Error).message))) throw err;
        // Lost a race: the same identity signed in twice at once, or the username or email was just taken.
        const won = await d.db
          .selectFrom('external_identities')
          .select('account_id')
          .where('provider', '=', provider.id)
          .where('subject', '=', profile.subject)
          .executeTakeFirst();
        if (won) {
          const other = await findAccount(d.db, won.account_id);
          if (other) return other;
        }
        if (email && (await d.db.selectFrom('accounts').select('id').where('email_key', '=', email).executeTakeFirst()))
          throw new AppError('conflict', t('external.error.email_exists'));
      }
    }
    throw new AppError('conflict', t('external.error.no_free_username'));
  }

  /** Candidates neither taken nor look-alikes of a taken one (ID-02: one skeleton covers both). */
  private async freeUsernames(profile: ExternalProfile): Promise<string[]> {
    const candidates = deriveUsernames(profile, this.d.random);
    const taken = new Set(
      (
        await this.d.db
          .selectFrom('accounts')
          .select('username_skeleton')
          .where('username_skeleton', 'in', candidates.map(usernameSkeleton))
          .execute()
      ).map((r) => r.username_skeleton),
    );
    return candidates.filter((c) => !taken.has(usernameSkeleton(c)));
  }

  private async insertIdentity(
    trx: Kysely<Database>,
    accountId: string,
    provider: Provider,
    profile: ExternalProfile,
  ): Promise<void> {
    const now = this.d.clock.now();
    await trx
      .insertInto('external_identities')
      .values({
        id: newId(this.d.random),
        account_id: accountId,
        provider: provider.id,
        subject: profile.subject,
        email: (profile.verifiedEmail ?? profile.email)?.slice(0, 254) ?? null,
        display_name: (profile.displayName ?? profile.login)?.slice(0, 100) ?? null,
        created_at: now,
        last_used_at: now,
      })
      .execute();
  }

  private async link(
    account: Account,
    provider: Provider,
    profile: ExternalProfile,
    ctx: RequestContext,
  ): Promise<Outcome> {
    const d = this.d;
    const existing = await d.db
      .selectFrom('external_identities')
      .select('account_id')
      .where('provider', '=', provider.id)
      .where('subject', '=', profile.subject)
      .executeTakeFirst();
    if (existing?.account_id === account.id) return { kind: 'linked', provider, already: true };
    if (existing) throw new AppError('conflict', t('external.error.linked_elsewhere', { provider: provider.name }));
    try {
      await d.db.transaction().execute(async (trx) => {
        await this.insertIdentity(trx, account.id, provider, profile);
        await d.audit.record(
          'external.linked',
          ctx,
          { accountId: account.id, details: { provider: provider.id } },
          trx,
        );
        await this.notify(trx, account, 'linked', provider, ctx);
      });
    } catch (err) {
      if (/unique|duplicate/i.test(String((err as Error).message)))
        throw new AppError('conflict', t('external.error.linked_elsewhere', { provider: provider.name }));
      throw err;
    }
    return { kind: 'linked', provider, already: false };
  }

  async list(accountId: string): Promise<IdentityView[]> {
    const rows = await this.d.db
      .selectFrom('external_identities')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      provider: r.provider,
      providerName: this.provider(r.provider)?.name ?? r.provider,
      displayName: r.display_name,
      email: r.email,
      linkedAt: isoTime(r.created_at),
      lastUsedAt: r.last_used_at ? isoTime(r.last_used_at) : null,
    }));
  }

  /** Removes a linked account, unless it is the last way to sign in (EXT-06). */
  async unlink(auth: Authenticated, identityId: string, ctx: RequestContext): Promise<void> {
    const d = this.d;
    d.sessions.requireRecentAuth(auth.session);
    await d.db.transaction().execute(async (trx) => {
      // Serialises concurrent unlinks of one account on PostgreSQL (SQLite transactions already are).
      let q = trx.selectFrom('accounts').selectAll().where('id', '=', auth.account.id);
      if (d.engine === 'postgres') q = q.forUpdate();
      const account = await q.executeTakeFirst();
      const rows = await trx
        .selectFrom('external_identities')
        .select(['id', 'provider'])
        .where('account_id', '=', auth.account.id)
        .execute();
      const target = rows.find((r) => r.id === identityId);
      if (!account || !target) throw new AppError('not_found', t('external.error.no_such_link'));
      if (!account.password_hash && rows.length < 2) {
        // A passkey signs in on its own; a flagged one (counter went backwards, MFA-04) no longer does.
        const passkey = await trx
          .selectFrom('second_factors')
          .select('id')
          .where('account_id', '=', account.id)
          .where('kind', '=', PASSKEY)
          .where('flagged_at', 'is', null)
          .limit(1)
          .execute();
        if (!passkey.length) throw new AppError('last_sign_in_method');
      }
      await trx.deleteFrom('external_identities').where('id', '=', target.id).execute();
      await d.audit.record(
        'external.unlinked',
        ctx,
        { accountId: account.id, details: { provider: target.provider } },
        trx,
      );
      await this.notify(trx, account, 'unlinked', this.provider(target.provider) ?? { name: target.provider }, ctx);
    });
  }

  /** The welcome step: a new account may pick another username once it is signed in. */
  async changeUsername(accountId: string, username: string, ctx: RequestContext): Promise<string> {
    // The same rules as registration (ID-02); the account's own key and skeleton do not count.
    const checked = checkUsername(username);
    if (!checked.ok) throw new AppError('validation_failed', undefined, { fields: [checked.problem] });
    const { username: name, key, skeleton } = checked.forms;
    await refuseUsernameClash(this.d.db, checked.forms, accountId);
    try {
      await this.d.db
        .updateTable('accounts')
        .set({ username: name, username_key: key, username_skeleton: skeleton, updated_at: this.d.clock.now() })
        .where('id', '=', accountId)
        .execute();
    } catch (err) {
      if (!/unique|duplicate/i.test(String((err as Error).message))) throw err;
      await refuseUsernameClash(this.d.db, checked.forms, accountId);
      throw new AppError('conflict', usernameTaken());
    }
    await this.d.audit.record('account.username_changed', ctx, { accountId });
    return name;
  }

  private async notify(
    trx: Kysely<Database>,
    account: Account,
    what: 'linked' | 'unlinked',
    provider: { name: string },
    ctx: RequestContext,
  ): Promise<void> {
    if (!account.email) return;
    const now = this.d.clock.now();
    const values = { provider: provider.name, username: account.username };
    // The account's owner asked for it: their saved language, else the request's.
    const mail = withLocale(account.locale ?? currentLocale(), () => {
      const title =
        what === 'linked' ? t('external.mail.linked_title', values) : t('external.mail.unlinked_title', values);
      return renderMail(this.d.brand, {
        subject: title,
        title,
        lines: [
          what === 'linked'
            ? t('external.mail.linked', { ...values, time: formatTime(now) })
            : t('external.mail.unlinked', { ...values, time: formatTime(now) }),
          t('external.mail.browser', {
            browser: ctx.userAgent ? ctx.userAgent.slice(0, 160) : t('external.mail.unknown'),
          }),
          t('external.mail.ip', { ip: ctx.ip || t('external.mail.unknown') }),
        ],
        after: [
          t('external.mail.not_you', {
            url: `${this.d.config.publicUrl}/forgot-password`,
            support: supportName(this.d.brand),
          }),
        ],
      });
    });
    await this.d.outbox.send(trx, { channel: 'email', kind: `external_${what}`, to: account.email, ...mail });
  }
}
