import type { ColumnType, Generated } from 'kysely';
// Table types for Kysely. Times are epoch milliseconds (integers on both engines), booleans are
// 0/1 integers, ids are random text, so one query text runs on SQLite and PostgreSQL alike.

/** 'deleted': the account's data was removed after its deletion grace period (an empty row stays). */
export type AccountStatus = 'pending' | 'active' | 'disabled' | 'deleted';

export interface OrganizationsTable {
  id: string;
  slug: string;
  name: string;
  display_name: string;
  support_contact: string | null;
  /** JSON text: enabled recovery methods and their limits */
  recovery_settings: string;
  created_at: number;
  /** 1: members may sign in by QR code (QR-09); 0: the organization turned it off */
  qr_login: Generated<number>;
  /** 1: members need a second factor to get a session (MFA-08) */
  require_second_factor: ColumnType<number, number | undefined, number>;
  /** brand (issue 17): primary colours `#rrggbb`, checked for contrast when saved */
  brand_color: string | null;
  brand_color_dark: string | null;
  support_url: string | null;
  /** logo bytes as base64 (PNG, JPEG or WebP only), its content type and upload version */
  logo: string | null;
  logo_type: string | null;
  logo_version: number | null;
  /** the language of its pages when the browser asks for none offered (null: the install's) */
  default_locale: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface OrgMembersTable {
  org_id: string;
  account_id: string;
  role: 'owner' | 'admin';
  created_at: number;
}

export interface AccountsTable {
  id: string;
  org_id: string;
  username: string;
  username_key: string;
  /** UTS #39 confusable skeleton (ID-02); null only for a pre-existing look-alike (see `identifiers check`) */
  username_skeleton: string | null;
  email: string | null;
  email_key: string | null;
  status: AccountStatus;
  password_hash: string | null;
  display_name: string | null;
  phone: string | null;
  phone_verified_at: number | null;
  is_staff: number;
  flagged_at: number | null;
  flag_reason: string | null;
  created_at: number;
  updated_at: number;
  activated_at: number | null;
  password_changed_at: number | null;
  /** self-service deletion: asked for at, takes effect at (null: none pending; signing in cancels) */
  deletion_requested_at: number | null;
  deletion_due_at: number | null;
  /** when the account's data was removed (status 'deleted') */
  deleted_at: number | null;
  /** the language the account chose (a BCP 47 tag of LATCHKEY_LOCALES); null: the browser's */
  locale: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ActivationsTable {
  id: string;
  account_id: string;
  token_hash: string;
  code_hash: string;
  expires_at: number;
  failed_attempts: number;
  used_at: number | null;
  created_at: number;
}

export interface SessionsTable {
  id: string;
  account_id: string;
  token_hash: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  /** when the user last proved who they are in this session (for SES-07 re-authentication) */
  auth_at: number;
  /** how the session was established: password, external:<provider>, qr, … */
  method: string;
  ip: string | null;
  user_agent: string | null;
  /** what the sign-in proved, a JSON array of RFC 8176 values (see src/security/amr.ts) */
  amr: string;
}

/** One-time secrets of recovery and verification: reset links, typed codes, OTPs. */
export interface RecoveryCodesTable {
  id: string;
  account_id: string;
  /** email_link | email_otp | sms_otp | admin_link | phone_verify … */
  method: string;
  /** the flow this code belongs to (OTP-03: a code works only in the flow that issued it) */
  flow_id: string;
  token_hash: string | null;
  code_hash: string | null;
  expires_at: number;
  failed_attempts: number;
  resends: number;
  used_at: number | null;
  /** for phone verification: the number being verified */
  target: string | null;
  created_at: number;
}

export interface OutboxTable {
  id: string;
  /** email | sms | job */
  channel: string;
  /** for jobs: the job kind; for messages: a template name, for metrics */
  kind: string;
  recipient: string;
  subject: string;
  body_text: string;
  body_html: string;
  /** JSON text for jobs and extra headers */
  payload: string | null;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  next_attempt_at: number;
  locked_by: string | null;
  locked_until: number | null;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

/** The development mailbox: a copy of each message the dev transport "delivered". */
export interface DevMailboxTable {
  id: string;
  channel: string;
  recipient: string;
  subject: string;
  body_text: string;
  body_html: string;
  created_at: number;
}

export interface AuditLogTable {
  id: string;
  at: number;
  event: string;
  account_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  correlation_id: string | null;
  /** JSON text; never a secret (LOG-02) */
  details: string | null;
}

export interface ExternalIdentitiesTable {
  id: string;
  account_id: string;
  provider: string;
  subject: string;
  email: string | null;
  display_name: string | null;
  created_at: number;
  last_used_at: number | null;
}

export interface PasswordChangesTable {
  id: string;
  account_id: string;
  /** reset | change | admin_reset … */
  kind: string;
  at: number;
}

/** Single-use markers: solved CAPTCHA payloads, replayed TOTP steps, used callbacks. */
export interface UsedNoncesTable {
  key: string;
  expires_at: number;
}

/** Consecutive sign-in failures under one key (an account or an unknown identifier), BF-01/AV-03. */
export interface SignInFailuresTable {
  key: string;
  failures: number;
  /** the latest attempt counted */
  last_at: number;
  /** the attempt before it (0 when none): the lock a reservation must respect started then */
  prev_at: number;
}

/** An account's second factor: a TOTP secret (encrypted) or a passkey (public key). */
export interface SecondFactorsTable {
  id: string;
  account_id: string;
  /** totp | passkey */
  kind: string;
  /** shown in /settings ("Authenticator app", a passkey's name) */
  name: string;
  created_at: number;
  /** TOTP counts only once confirmed by a valid code (MFA-01); passkeys are confirmed at once */
  confirmed_at: number | null;
  last_used_at: number | null;
  /** TOTP: the secret, encrypted with a key derived from the server secret */
  secret_enc: string | null;
  /** TOTP: the last time step accepted, so no code at or before it is accepted again (MFA-02) */
  last_step: number | null;
  /** passkey: base64url credential id, public key, signature counter, transports (JSON) */
  credential_id: string | null;
  public_key: string | null;
  sign_count: number | null;
  transports: string | null;
  /** passkey: when its signature counter went backwards (MFA-04) */
  flagged_at: number | null;
}

/** Second-factor recovery codes (OTP-07, MFA-05): only a hash, single use. */
export interface MfaRecoveryCodesTable {
  id: string;
  account_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

/** A "Contact support" request (ADM-08); `account_id` is null when the identifier named no account. */
export interface SupportRequestsTable {
  id: string;
  /** the short reference the filer quotes */
  ref: string;
  /** the username or email as typed */
  identifier: string;
  account_id: string | null;
  org_id: string | null;
  /** where replies go; not verified, so nothing about the account is ever sent there */
  contact: string;
  status: 'open' | 'answered' | 'closed';
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  updated_at: number;
}

/** What the filer wrote and what staff replied, in order; shown on the signed status page. */
export interface SupportMessagesTable {
  id: string;
  request_id: string;
  author: 'user' | 'staff';
  staff_id: string | null;
  body: string;
  created_at: number;
}

/** An entry of the staff review queue (src/store/review-items.ts). */
export interface ReviewItemsTable {
  id: string;
  kind: string;
  account_id: string | null;
  org_id: string | null;
  /** what the item is about: the account id, or the support request id */
  subject: string;
  /** `kind:subject` while open, null once resolved (unique: one open item per subject and kind) */
  open_key: string | null;
  reason: string;
  /** JSON text; never a secret */
  details: string | null;
  opened_at: number;
  assigned_to: string | null;
  assigned_at: number | null;
  resolved_at: number | null;
  resolved_by: string | null;
  outcome: string | null;
}

/** Staff notes on a review item (internal: never shown to the account's owner). */
export interface ReviewNotesTable {
  id: string;
  item_id: string;
  author_id: string;
  body: string;
  created_at: number;
}

/** Staff of the install (ADM-04): created only by `latchkey staff add`. */
export interface StaffRolesTable {
  account_id: string;
  /** support | admin */
  role: string;
  created_at: number;
  /** who granted it: `cli`, or a staff account id */
  created_by: string | null;
}
export type QrLoginStatus = 'pending' | 'shown' | 'approved' | 'declined' | 'redeemed' | 'replaced';

/** QR sign-in requests (src/flows/qr): hashes only, state moved by conditional updates. */
export interface QrLoginsTable {
  id: string;
  /** SHA-256 of the binding cookie of the browser that showed the QR (QR-02) */
  binding_hash: string;
  /** SHA-256 of the secret in the QR link (QR-01, QR-03); a rotation is a new request */
  secret_hash: string;
  /** keyed hash of the typed code (not unique: 8 characters collide across the years) */
  code_hash: string;
  /** the two-digit number shown on the new browser (QR-07) */
  number: number;
  status: QrLoginStatus;
  created_at: number;
  expires_at: number;
  /** the new browser */
  ip: string | null;
  user_agent: string | null;
  /** when a signed-in phone first opened it; from then on the new browser stops rotating it */
  shown_at: number | null;
  /** the account that opened, then approved or declined it */
  account_id: string | null;
  approver_session_id: string | null;
  /** the approving session's amr (JSON), which the new session gets (QR-06) */
  approver_amr: string | null;
  approver_ip: string | null;
  approver_user_agent: string | null;
  decided_at: number | null;
  /** the session it was redeemed for */
  session_id: string | null;
  redeemed_at: number | null;
  /** SHA-256 of the single-use "This wasn't me" link of the notice (QR-09) */
  report_hash: string | null;
  reported_at: number | null;
}
/** A passkey challenge, valid once, for one ceremony (MFA-04; src/store/webauthn-challenges.ts). */
export interface WebauthnChallengesTable {
  /** base64url, 256 random bits */
  challenge: string;
  /** register | signin | second_factor | recovery */
  purpose: string;
  /** what the ceremony is bound to: a session id, a hashed browser cookie, a pending sign-in */
  binding: string;
  account_id: string | null;
  created_at: number;
  expires_at: number;
}

/** What oidc-provider stores (grant, code, token, session, interaction …): one JSON payload per row. */
export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  account_id: string | null;
  client_id: string | null;
  uid: string | null;
  user_code: string | null;
  /** null: no expiry */
  expires_at: number | null;
  consumed_at: number | null;
}

/** A relying party registered by `latchkey clients add` (its secret encrypted with the server secret). */
export interface OidcClientsTable {
  id: string;
  name: string;
  /** null for a public client (PKCE only, no secret) */
  secret_enc: string | null;
  /** JSON arrays of exact URIs (OP-01) */
  redirect_uris: string;
  post_logout_redirect_uris: string;
  backchannel_logout_uri: string | null;
  /** 1: consent is skipped (OP-06) */
  first_party: number;
  created_at: number;
  updated_at: number;
}

/** ID-token signing keys (OP-05): the private JWK encrypted, the public one in clear for the JWKS. */
export interface OidcKeysTable {
  kid: string;
  alg: string;
  private_jwk_enc: string;
  public_jwk: string;
  created_at: number;
  /** when a newer key took over; published until its tokens have expired */
  retired_at: number | null;
}

/** A half-finished sign-in (MFA-07): the first factor passed, the second is pending. */
export interface PendingSignInsTable {
  id: string;
  /** SHA-256 of the pending cookie's token: only that browser can finish it */
  token_hash: string;
  account_id: string;
  /** how the first factor was proved (password, external:<provider> …) and its amr (JSON) */
  method: string;
  amr: string;
  created_at: number;
  expires_at: number;
  /** a path on this service to go to once signed in */
  return_to: string | null;
  /** 1: the account has no factor and its organization requires one: enrol first (MFA-08) */
  enrol: number;
  /** when it was finished, or ended unused (expired, a password change): single use */
  used_at: number | null;
  /** where the first factor came from, for the audit record if it is abandoned (cleaned text) */
  ip: string | null;
  user_agent: string | null;
  correlation_id: string | null;
  /** 1: "Keep me signed in" was ticked with the first factor: the session cookie outlasts the browser */
  keep_signed_in: number;
}

/** "Don't ask again on this browser": the SHA-256 of the device cookie's token. */
export interface MfaTrustedDevicesTable {
  id: string;
  account_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  organizations: OrganizationsTable;
  org_members: OrgMembersTable;
  accounts: AccountsTable;
  activations: ActivationsTable;
  sessions: SessionsTable;
  recovery_codes: RecoveryCodesTable;
  outbox: OutboxTable;
  dev_mailbox: DevMailboxTable;
  audit_log: AuditLogTable;
  external_identities: ExternalIdentitiesTable;
  password_changes: PasswordChangesTable;
  used_nonces: UsedNoncesTable;
  sign_in_failures: SignInFailuresTable;
  second_factors: SecondFactorsTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  oidc_payloads: OidcPayloadsTable;
  oidc_clients: OidcClientsTable;
  oidc_keys: OidcKeysTable;
  support_requests: SupportRequestsTable;
  support_messages: SupportMessagesTable;
  review_items: ReviewItemsTable;
  review_notes: ReviewNotesTable;
  staff_roles: StaffRolesTable;
  qr_logins: QrLoginsTable;
  pending_sign_ins: PendingSignInsTable;
  mfa_trusted_devices: MfaTrustedDevicesTable;
  webauthn_challenges: WebauthnChallengesTable;
  meta: MetaTable;
}
