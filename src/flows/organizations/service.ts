import type { Kysely, Selectable } from 'kysely';
import type { RequestContext } from '../../context.ts';
import { type Branding, smsSenderId } from '../../delivery/templates.ts';
import { AppError, type FieldProblem } from '../../errors.ts';
import { matchLocale } from '../../i18n/locales.ts';
import { offeredLocales } from '../../i18n/scope.ts';
import { t } from '../../i18n/translate.ts';
import type { Kernel } from '../../kernel.ts';
import { newId } from '../../security/random.ts';
import { type Account, findAccountByIdentifier } from '../../store/accounts.ts';
import { DEFAULT_ORG_SLUG, defaultOrgId, type OrgStoreDeps } from '../../store/organizations.ts';
import type { Database, OrganizationsTable } from '../../store/schema.ts';
import type { Authenticated } from '../../web/auth.ts';
import type { RecoveryMethods } from '../recovery/method.ts';
import type { SessionService } from '../sessions/service.ts';
import { defaultRecoverySettings, parseStoredSettings, type RecoverySettings, validateSettings } from './settings.ts';

/** What this module uses of the container the composition root builds. */
export type OrganizationDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'random' | 'brand' | 'audit'> & {
  sessions: SessionService;
  recoveryMethods: RecoveryMethods;
} & OrgStoreDeps;

export interface Organization {
  id: string;
  slug: string;
  name: string;
  displayName: string;
  supportContact: string | null;
  recovery: RecoverySettings;
  /** sign-in rules for members (MFA-08) */
  security: SecuritySettings;
}

export interface SecuritySettings {
  /** members need a second factor: one without is led to enrol right after the password (MFA-08) */
  requireSecondFactor: boolean;
  /**
   * the language of the organization's pages (/o/{slug}/…) for a person who chose none and whose
   * browser asks for none that is offered (issue 17); null: the install's default
   */
  defaultLanguage: string | null;
}

/** The offered language `raw` names (any case), or undefined. */
function offeredTag(raw: string): string | undefined {
  const found = raw.length <= 35 ? matchLocale(raw, offeredLocales()) : undefined;
  return found && found.toLowerCase() === raw.trim().toLowerCase() ? found : undefined;
}

export type OrgRole = 'owner' | 'admin';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/**
 * Organizations, their administrators and their recovery settings. Only an owner or admin of an
 * organization may change its settings; every refusal is a 403 that is audited (ADM-05).
 */
export class OrganizationService {
  /** What an organization that never saved a value gets (the methods' defaults under this configuration). */
  private readonly defaults: RecoverySettings;

  constructor(private readonly d: OrganizationDeps) {
    this.defaults = defaultRecoverySettings(d.recoveryMethods, d.config);
  }

  async bySlug(slug: string): Promise<Organization | undefined> {
    if (!SLUG.test(slug)) return undefined;
    const row = await this.d.db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst();
    return row && toOrg(row, this.defaults, this.d.recoveryMethods);
  }

  async byId(id: string): Promise<Organization | undefined> {
    const row = await this.d.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toOrg(row, this.defaults, this.d.recoveryMethods);
  }

  async defaultOrg(): Promise<Organization> {
    const org = await this.byId(await defaultOrgId(this.d));
    if (!org) throw new Error('default organization missing');
    return org;
  }

  /** The organization an account belongs to (the default one if its row has gone). */
  async ofAccount(account: Pick<Account, 'org_id'>): Promise<Organization> {
    return (await this.byId(account.org_id)) ?? this.defaultOrg();
  }

  /** Recovery settings of an account's organization, read through `db` (a transaction, if inside one). */
  async recoveryFor(account: Pick<Account, 'org_id'>, db: Kysely<Database> = this.d.db): Promise<RecoverySettings> {
    const row = await db
      .selectFrom('organizations')
      .select('recovery_settings')
      .where('id', '=', account.org_id)
      .executeTakeFirst();
    return parseStoredSettings(this.d.recoveryMethods, row?.recovery_settings, this.defaults);
  }

  /** Mails to an account carry its organization's name and support contact. */
  async brandFor(account: Pick<Account, 'org_id'>, db: Kysely<Database> = this.d.db): Promise<Branding> {
    const row = await db
      .selectFrom('organizations')
      .select(['slug', 'display_name', 'support_contact', 'brand_color', 'support_url', 'logo_type', 'logo_version'])
      .where('id', '=', account.org_id)
      .executeTakeFirst();
    return {
      ...this.d.brand,
      productName: row?.display_name || this.d.brand.productName,
      supportContact: row?.support_contact || this.d.brand.supportContact,
      // The organization's brand (src/flows/brand), where it set one; the install's otherwise.
      primaryColor: row?.brand_color || this.d.brand.primaryColor,
      supportUrl: row?.support_url || this.d.brand.supportUrl,
      logoUrl: row?.logo_type
        ? `${this.d.config.publicUrl}/brand/${row.slug}/logo?v=${row.logo_version ?? 0}`
        : undefined,
      smsSender: this.d.config.sms.brandSender ? smsSenderId(row?.display_name || this.d.brand.productName) : undefined,
    };
  }

  /**
   * The language of a mail to an account outside its own request (a staff action, the outbox
   * worker): the account's choice, else its organization's default, else null (the install's
   * default). Use as `withLocale(await organizations.mailLocaleFor(account), () => …)`.
   */
  async mailLocaleFor(
    account: Pick<Account, 'org_id' | 'locale'>,
    db: Kysely<Database> = this.d.db,
  ): Promise<string | null> {
    if (account.locale) return account.locale;
    const row = await db
      .selectFrom('organizations')
      .select('default_locale')
      .where('id', '=', account.org_id)
      .executeTakeFirst();
    return row?.default_locale ?? null;
  }

  async roleOf(orgId: string, accountId: string): Promise<OrgRole | undefined> {
    const row = await this.d.db
      .selectFrom('org_members')
      .select('role')
      .where('org_id', '=', orgId)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return row?.role;
  }

  /** The organization an admin may manage, or an audited 403 (ADM-05). Unknown slugs are 404. */
  async requireAdmin(slug: string, account: Account, ctx: RequestContext, action: string): Promise<Organization> {
    const org = await this.bySlug(slug);
    if (!org) throw new AppError('not_found', t('organizations.no_such_org'));
    const role = await this.roleOf(org.id, account.id);
    if (!role) {
      await this.d.audit.record('admin.forbidden', ctx, { actorId: account.id, details: { action, org: org.slug } });
      throw new AppError('forbidden');
    }
    return org;
  }

  /**
   * The gate of every change an admin makes (SES-07): an admin of the organization (ADM-05) whose
   * sign-in is recent, so a session left open or stolen cannot quietly weaken how the members
   * recover their accounts. The role is checked first: a member gets the audited 403, not a
   * request to sign in again. Every state-changing admin route and page goes through here.
   */
  async requireAdminChange(
    slug: string,
    auth: Authenticated,
    ctx: RequestContext,
    action: string,
  ): Promise<Organization> {
    const org = await this.requireAdmin(slug, auth.account, ctx, action);
    this.d.sessions.requireRecentAuth(auth.session);
    return org;
  }

  async updateRecoverySettings(
    slug: string,
    auth: Authenticated,
    input: unknown,
    ctx: RequestContext,
  ): Promise<RecoverySettings> {
    const actor = auth.account;
    const org = await this.requireAdminChange(slug, auth, ctx, 'organization.recovery_settings');
    const next = validateSettings(this.d.recoveryMethods, org.recovery, input);
    await this.d.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('organizations')
        .set({ recovery_settings: JSON.stringify(next) })
        .where('id', '=', org.id)
        .execute();
      await this.d.audit.record(
        'org.recovery_settings_changed',
        ctx,
        {
          actorId: actor.id,
          details: {
            org: org.slug,
            methods: next.methods.join(','),
            // one summary string: the audit guard refuses keys that merely look like secrets ("otp")
            limits: `link ${next.emailLinkTtl}s, email ${next.emailOtpTtl}s, sms ${next.smsOtpTtl}s, ${next.otpLength} digits, ${next.maxAttempts} tries, ${next.maxResends} resends`,
          },
        },
        trx,
      );
    });
    return next;
  }

  /** Changes the sign-in rules (MFA-08); the same gate and audit as the recovery settings. */
  async updateSecuritySettings(
    slug: string,
    auth: Authenticated,
    input: unknown,
    ctx: RequestContext,
  ): Promise<SecuritySettings> {
    const org = await this.requireAdminChange(slug, auth, ctx, 'organization.security_settings');
    const i = (input ?? {}) as Record<string, unknown>;
    if (typeof input !== 'object' || Array.isArray(input) || input === null)
      throw new AppError('validation_failed', t('organizations.send_object'));
    const fields: FieldProblem[] = Object.keys(i)
      .filter((k) => k !== 'requireSecondFactor' && k !== 'defaultLanguage')
      .map((k) => ({ field: k.slice(0, 64), code: 'unknown', message: t('organizations.unknown_setting') }));
    if (i.requireSecondFactor !== undefined && typeof i.requireSecondFactor !== 'boolean')
      fields.push({ field: 'requireSecondFactor', code: 'invalid', message: t('organizations.true_or_false') });
    let defaultLanguage = org.security.defaultLanguage;
    if (i.defaultLanguage === null) defaultLanguage = null;
    else if (i.defaultLanguage !== undefined) {
      const found = typeof i.defaultLanguage === 'string' ? offeredTag(i.defaultLanguage) : undefined;
      if (found) defaultLanguage = found;
      else
        fields.push({
          field: 'defaultLanguage',
          code: 'invalid',
          message: t('organizations.unknown_language', { offered: offeredLocales().join(', ') }),
        });
    }
    if (fields.length) throw new AppError('validation_failed', undefined, { fields });
    const next: SecuritySettings = {
      requireSecondFactor: (i.requireSecondFactor as boolean | undefined) ?? org.security.requireSecondFactor,
      defaultLanguage,
    };
    await this.d.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('organizations')
        .set({ require_second_factor: next.requireSecondFactor ? 1 : 0, default_locale: next.defaultLanguage })
        .where('id', '=', org.id)
        .execute();
      await this.d.audit.record(
        'org.security_settings_changed',
        ctx,
        {
          actorId: auth.account.id,
          details: {
            org: org.slug,
            requireSecondFactor: next.requireSecondFactor,
            defaultLanguage: next.defaultLanguage,
          },
        },
        trx,
      );
    });
    return next;
  }

  /** `latchkey org create`: a new organization with the default recovery settings. */
  async create(
    input: { slug: string; name: string; displayName?: string; supportContact?: string },
    ctx: RequestContext,
  ): Promise<Organization> {
    const slug = input.slug.trim().toLowerCase();
    if (!SLUG.test(slug))
      throw new AppError('validation_failed', 'A slug is 1-40 lowercase letters, digits and dashes.');
    const name = input.name.trim();
    if (!name || name.length > 200) throw new AppError('validation_failed', 'A name is 1-200 characters.');
    if (await this.bySlug(slug)) throw new AppError('conflict', `Organization "${slug}" already exists.`);
    const id = newId(this.d.random);
    await this.d.db
      .insertInto('organizations')
      .values({
        id,
        slug,
        name,
        display_name: input.displayName?.trim() || name,
        support_contact: input.supportContact?.trim() || null,
        recovery_settings: JSON.stringify({ methods: ['email_link'] }),
        created_at: this.d.clock.now(),
      })
      .execute();
    await this.d.audit.record('org.created', ctx, { details: { org: slug } });
    return (await this.byId(id)) as Organization;
  }

  /**
   * `latchkey org add-admin`: makes an existing account an admin (or owner) of an organization.
   * There are no default credentials (ADM-04): the first admin exists only through this command.
   */
  async addAdmin(slug: string, identifier: string, role: OrgRole, ctx: RequestContext): Promise<Account> {
    const org = await this.bySlug(slug);
    if (!org) throw new AppError('not_found', `No organization "${slug}".`);
    const account = await findAccountByIdentifier(this.d.db, identifier);
    // The CLI prints these: each says what to do next, since an admin must first be a member.
    const registerAt = `${this.d.config.publicUrl}/o/${org.slug}/register`;
    if (!account)
      throw new AppError(
        'not_found',
        `No account "${identifier}". The admin must first register at ${registerAt} and activate the account, then run this again.`,
      );
    if (account.org_id !== org.id && org.slug !== DEFAULT_ORG_SLUG)
      throw new AppError(
        'conflict',
        `Account "${account.username}" belongs to another organization. An admin of "${org.slug}" must be a member: register an account at ${registerAt}, then run this again with it.`,
      );
    await this.d.db
      .insertInto('org_members')
      .values({ org_id: org.id, account_id: account.id, role, created_at: this.d.clock.now() })
      .onConflict((oc) => oc.columns(['org_id', 'account_id']).doUpdateSet({ role }))
      .execute();
    await this.d.audit.record('org.admin_added', ctx, { accountId: account.id, details: { org: org.slug, role } });
    return account;
  }
}

function toOrg(
  row: Omit<Selectable<OrganizationsTable>, 'created_at'>,
  defaults: RecoverySettings,
  methods: RecoveryMethods,
): Organization {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    displayName: row.display_name,
    supportContact: row.support_contact,
    recovery: parseStoredSettings(methods, row.recovery_settings, defaults),
    security: {
      requireSecondFactor: Number(row.require_second_factor) === 1,
      // a language no longer offered (LATCHKEY_LOCALES changed) is not in force: src/web/locale.ts skips it
      defaultLanguage: row.default_locale && offeredLocales().includes(row.default_locale) ? row.default_locale : null,
    },
  };
}
