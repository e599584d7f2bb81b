import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import pino, { type Logger } from 'pino';
import type { Config } from './config/index.ts';
import { DevMailboxTransport } from './delivery/dev-mailbox.ts';
import { SmtpTransport } from './delivery/email.ts';
import { Outbox } from './delivery/outbox.ts';
import { smsGatewayFromConfig } from './delivery/sms/index.ts';
import { DeliveryWorker } from './delivery/worker.ts';
import { AccountService } from './flows/account/service.ts';
import { activitySection } from './flows/activity/pages.tsx';
import { appsSection } from './flows/apps/routes.tsx';
import { AppsService } from './flows/apps/service.ts';
import { BrandService } from './flows/brand/service.ts';
import { twoStepSection } from './flows/factors/pages.tsx';
import { FactorService } from './flows/factors/service.ts';
import { adminLinkSection } from './flows/organizations/pages.tsx';
import { OrganizationService } from './flows/organizations/service.ts';
import { phoneSection } from './flows/phone/pages.tsx';
import { PhoneService } from './flows/phone/service.ts';
import { AccountDeletion } from './flows/profile/deletion.ts';
import { profileSection } from './flows/profile/pages.tsx';
import { ProfileService } from './flows/profile/service.ts';
import { qrLoginLink, qrOrgSwitch, qrSettingsSection } from './flows/qr/pages.tsx';
import { QrLoginService, type SecondFactorRequirement } from './flows/qr/service.ts';
import type { RecoveryMethod, RecoveryMethods } from './flows/recovery/method.ts';
import { resetEmailSection } from './flows/recovery/pages.tsx';
import { RecoveryService } from './flows/recovery/service.ts';
import { RegistrationService } from './flows/registration/service.ts';
import { ReviewService } from './flows/review/service.ts';
import { SessionService } from './flows/sessions/service.ts';
import type { SecondFactorMethod, SecondFactors } from './flows/signin/second-factor.ts';
import { SignInService } from './flows/signin/service.ts';
import { StaffActions } from './flows/staff/actions.ts';
import { AuditTrail } from './flows/staff/audit-trail.ts';
import { AccountDirectory } from './flows/staff/directory.ts';
import { StaffGuard } from './flows/staff/guard.ts';
import { StaffMembers } from './flows/staff/members.ts';
import { SupportService } from './flows/support/service.ts';
import type { Kernel } from './kernel.ts';
import { emailLinkMethod } from './methods/email-link/index.ts';
import { emailOtpMethod } from './methods/email-otp/index.ts';
import { linkedSection, providerButtons } from './methods/external/pages.tsx';
import { ExternalAccounts } from './methods/external/service.ts';
import { passkeyFactor } from './methods/passkey/index.ts';
import { passkeyLoginExtra, passkeyResetChoice, passkeySection } from './methods/passkey/pages.tsx';
import { PasskeyService } from './methods/passkey/service.ts';
import { recoveryCodeFactor } from './methods/recovery-code/index.ts';
import { MethodRegistry } from './methods/registry.ts';
import { smsOtpMethod } from './methods/sms-otp/index.ts';
import { totpFactor } from './methods/totp/index.ts';
import { createMetrics } from './metrics.ts';
import { Audit } from './security/audit.ts';
import { createCaptcha } from './security/captcha/index.ts';
import type { Captcha } from './security/captcha.ts';
import { type Clock, systemClock } from './security/clock.ts';
import type { Guard } from './security/guard.ts';
import { createGuard } from './security/limits.ts';
import { PasswordHasher } from './security/password-hash.ts';
import { PasswordPolicy } from './security/password-policy.ts';
import { cryptoRandom, newToken, type Random } from './security/random.ts';
import { migrate, openStore } from './store/db.ts';
import { warnIdentifierCollisions } from './store/identifier-audit.ts';
import { metaValueOrInit } from './store/meta.ts';
import { ensureDefaultOrg, orgRequiresSecondFactor } from './store/organizations.ts';
import { pendingOutboxByChannel } from './store/outbox.ts';
import { countOpenByKind } from './store/review-items.ts';
import type { Database } from './store/schema.ts';
import type { Authenticated } from './web/auth.ts';
import type { PageExtras } from './web/extras.ts';

/**
 * The composition root's product: configuration, store, injected clock and randomness, the
 * security layer, delivery, and one service per flow. Each service is handed this container but
 * typed with the slice it declares (e.g. `SessionDeps`), so adding a flow never changes another
 * flow's constructor and only the root imports this module (`npm run check:cycles`).
 */
export interface Deps extends Kernel {
  // flows
  sessions: SessionService;
  signIn: SignInService;
  registration: RegistrationService;
  account: AccountService;
  /** sign-in and linking with external accounts (src/methods/external) */
  external: ExternalAccounts;
  recovery: RecoveryService;
  /** managing one's second factors and recovery codes (src/flows/factors) */
  factors: FactorService;
  /** the second factors the sign-in step offers, in this order (SECOND_FACTORS) */
  secondFactors: SecondFactors;
  /** the recovery methods, in the order the chooser offers them (RECOVERY_METHODS) */
  recoveryMethods: RecoveryMethods;
  /** organizations, their admins and recovery settings (src/flows/organizations) */
  organizations: OrganizationService;
  /** mobile numbers on /settings and SMS codes (src/flows/phone) */
  phone: PhoneService;
  /** Latchkey as OpenID Provider: clients, signing keys, the provider behind /oidc (src/flows/apps) */
  apps: AppsService;
  /** the staff console's gate: roles, second factor, re-authentication, reasons (src/flows/staff) */
  staffGuard: StaffGuard;
  /** the install's staff and their roles (`latchkey staff …`) */
  staffMembers: StaffMembers;
  /** the console's account search and account pages */
  staffDirectory: AccountDirectory;
  /** the console's actions on accounts (reset, sessions, unlock, disable, second factors, …) */
  staffActions: StaffActions;
  /** the console's audit trail and export */
  auditTrail: AuditTrail;
  /** "Contact support" requests and staff replies (src/flows/support) */
  support: SupportService;
  /** the staff review queue (src/flows/review) */
  review: ReviewService;
  /** changing one's email address and username (src/flows/profile) */
  profile: ProfileService;
  /** deleting one's account after a grace period (src/flows/profile/deletion.ts) */
  deletion: AccountDeletion;
  /** organizations' brands: colours, support link, logo (src/flows/brand) */
  brandService: BrandService;
  /** sign-in by QR code from a signed-in phone (src/flows/qr) */
  qr: QrLoginService;
  /** MFA-08 for QR sign-in: whether the account's organization requires a second factor (wired by f18) */
  qrSecondFactorRequired?: SecondFactorRequirement;
  /** passkeys: adding, removing, signing in with one (src/methods/passkey) */
  passkeys: PasskeyService;
  /** what features add to the shared sign-in and /settings pages, in page order */
  pages: PageExtras;
  /** resources to release at shutdown, last added first */
  closers: (() => Promise<void> | void)[];
}

export interface DepsOverrides {
  clock?: Clock;
  random?: Random;
  log?: Logger;
  guard?: (d: Deps) => Guard | Promise<Guard>;
  captcha?: (d: Deps) => Captcha | Promise<Captcha>;
  /** the recovery methods instead of RECOVERY_METHODS (tests add throw-away ones) */
  recoveryMethods?: readonly RecoveryMethod[];
  /** the second factors instead of SECOND_FACTORS */
  secondFactors?: readonly SecondFactorMethod[];
}

/**
 * Every recovery method, in the order the chooser and the organization settings offer them. A
 * new method is its folder under src/methods/ and one line here.
 */
export const RECOVERY_METHODS: readonly RecoveryMethod[] = [emailLinkMethod, emailOtpMethod, smsOtpMethod];

/**
 * Every second factor, in the order the sign-in step offers them (BF-05). A new factor is its
 * folder under src/methods/ and one line here; an email code is never one (OTP-06).
 */
export const SECOND_FACTORS: readonly SecondFactorMethod[] = [totpFactor, passkeyFactor, recoveryCodeFactor];

async function serverSecret(db: Kysely<Database>, configured: string | undefined, random: Random): Promise<string> {
  if (configured) return configured;
  // One secret per database, so every process on the same database agrees without setup.
  return metaValueOrInit(db, 'server_secret', newToken(random, 32));
}

export async function createDeps(config: Config, o: DepsOverrides = {}): Promise<Deps> {
  const clock = o.clock ?? systemClock;
  const random = o.random ?? cryptoRandom;
  const log =
    o.log ??
    pino({
      level: config.logLevel,
      redact: { paths: ['req.headers.cookie', 'req.headers.authorization'], remove: true },
    });
  // Checked before the store opens, so a missing gateway setting fails start without leaking it.
  const sms = smsGatewayFromConfig(config);
  const store = openStore(config.databaseUrl, config.database);
  const closers: Deps['closers'] = [() => store.close()];
  try {
    await migrate(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  const db = store.db;
  await warnIdentifierCollisions(db, log);
  const secret = await serverSecret(db, config.secret, random);
  const outbox = new Outbox(clock, random);
  const worker = new DeliveryWorker(
    db,
    store.engine,
    clock,
    log,
    {
      pollMs: config.outbox.poll,
      maxAttempts: config.outbox.maxAttempts,
      backoffBaseMs: config.outbox.backoffBase,
      leaseMs: config.outbox.smtpTimeout * 3 + 30_000,
      workerId: `${hostname()}:${process.pid}:${newToken(random, 6)}`,
    },
    outbox,
  );
  const d = {
    config,
    store,
    db,
    engine: store.engine,
    clock,
    random,
    log,
    secret,
    brand: {
      productName: config.productName,
      supportContact: config.supportContact,
      primaryColor: config.brand.primaryColor,
      supportUrl: config.brand.supportUrl,
      supportEmail: config.brand.supportEmail,
    },
    hasher: new PasswordHasher(config.argon2, config.hashThreads),
    policy: new PasswordPolicy(config.password),
    outbox,
    worker,
    audit: new Audit(db, clock, random, log),
    recoveryMethods: new MethodRegistry(o.recoveryMethods ?? RECOVERY_METHODS),
    secondFactors: new MethodRegistry(o.secondFactors ?? SECOND_FACTORS),
    closers,
  } as Partial<Deps> as Deps;
  closers.push(() => d.hasher.close());
  d.metrics = createMetrics(
    () => pendingOutboxByChannel(db),
    () => ({ ...d.hasher.load, runs: d.hasher.hashesRun }),
    () => countOpenByKind(db),
  );
  worker.onDelivered = (row) => d.metrics.delivered.inc({ channel: row.channel, result: 'sent' });

  if (config.smtpUrl) {
    const smtp = new SmtpTransport(config.smtpUrl, config.mailFrom, config.outbox.smtpTimeout);
    worker.setTransport('email', smtp);
    closers.push(() => smtp.close());
  } else {
    // Only reachable in development: production refuses to start without SMTP.
    worker.setTransport('email', new DevMailboxTransport(db, clock, random));
  }
  if (sms) worker.setTransport('sms', sms);
  else if (config.dev) worker.setTransport('sms', new DevMailboxTransport(db, clock, random));

  d.sessions = new SessionService(d);
  d.organizations = new OrganizationService(d);
  d.deletion = new AccountDeletion(d);
  d.signIn = new SignInService(d);
  d.factors = new FactorService(d);
  d.signIn.enrolment = d.factors.signInEnrolment();
  d.registration = new RegistrationService(d);
  d.account = new AccountService(d);
  d.external = new ExternalAccounts(d);
  d.recovery = new RecoveryService(d);
  d.phone = new PhoneService(d);
  d.apps = new AppsService(d);
  d.staffGuard = new StaffGuard(d);
  d.staffMembers = new StaffMembers(d);
  d.staffDirectory = new AccountDirectory(d);
  d.staffActions = new StaffActions(d);
  d.auditTrail = new AuditTrail(d);
  d.support = new SupportService(d);
  d.review = new ReviewService(d);
  d.profile = new ProfileService(d);
  d.brandService = new BrandService(d);
  d.qr = new QrLoginService(d);
  // MFA-08 for QR sign-in: a phone session approves for an organization that requires a second factor only if it has one.
  d.qrSecondFactorRequired = (account) => orgRequiresSecondFactor(d, account.org_id);
  d.passkeys = new PasskeyService(d);
  d.pages = {
    loginExtras: [() => passkeyLoginExtra(), (o) => qrLoginLink(d, o), (o) => providerButtons(d, o)],
    settingsSections: [
      (auth) => adminLinkSection(d, auth),
      (auth, flash) => profileSection(d, auth, flash),
      (auth, flash) => twoStepSection(d, auth, flash),
      (auth, flash, error) => resetEmailSection(d, auth, flash, error),
      (auth, flash) => passkeySection(d, auth, flash),
      (auth, flash) => linkedSection(d, auth, flash),
      (auth, flash, error) => phoneSection(d, auth, flash, error),
      (auth) => qrSettingsSection(d, auth),
      (auth) => activitySection(d, auth),
      ...(config.op.enabled ? [(auth: Authenticated, flash: string | undefined) => appsSection(d, auth, flash)] : []),
    ],
    orgSettingsSections: [(org) => qrOrgSwitch(d, org)],
    resetChoices: [(token) => passkeyResetChoice(d, token)],
  };

  await ensureDefaultOrg(d);
  // Abuse protection from config (LATCHKEY_CAPTCHA, LATCHKEY_LIMIT_*, LATCHKEY_REDIS_URL); tests may swap either.
  try {
    d.guard = o.guard ? await o.guard(d) : await createGuard(d);
    d.captcha = o.captcha ? await o.captcha(d) : createCaptcha(d);
  } catch (err) {
    await closeDeps(d);
    throw err;
  }
  if (config.op.enabled) {
    try {
      await d.apps.start();
    } catch (err) {
      await closeDeps(d);
      throw err;
    }
    closers.push(() => d.apps.stop());
  }
  const guard = d.guard;
  if (guard.close) closers.push(() => guard.close?.());
  d.signIn.start();
  closers.push(() => d.signIn.stop());
  return d;
}

export async function closeDeps(d: Deps): Promise<void> {
  await d.worker.stop();
  for (const close of [...d.closers].reverse()) {
    try {
      await close();
    } catch (err) {
      d.log.warn({ err }, 'error while closing');
    }
  }
}
