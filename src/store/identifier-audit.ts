import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { checkUsername, normalizeEmail, usernameKey, usernameSkeleton } from '../security/identifiers.ts';
import type { Database } from './schema.ts';

// Existing accounts under the identifier rules of ID-01/ID-02: what the 003 migration rewrites,
// and what it must leave alone and report instead. Two rows that turn out to be one mailbox or one
// handle are never merged or renamed here: that is a decision for a person (`latchkey identifiers
// check` lists them).

export interface IdentifierRow {
  id: string;
  username: string;
  username_key: string;
  email: string | null;
  email_key: string | null;
  created_at: number;
}

export interface ReportedAccount {
  id: string;
  username: string;
  email: string | null;
}

export interface IdentifierReport {
  /** accounts whose addresses normalise to one mailbox: left as they were */
  emailCollisions: { email: string; accounts: ReportedAccount[] }[];
  /** addresses that do not normalise at all (e.g. an IP address as domain): left as they were */
  unnormalisedEmails: ReportedAccount[];
  /** usernames equal under NFKC + full case folding: left as they were */
  usernameCollisions: { key: string; accounts: ReportedAccount[] }[];
  /** look-alike usernames (one UTS #39 skeleton): the oldest keeps the skeleton, the others get none */
  confusableUsernames: { skeleton: string; accounts: ReportedAccount[] }[];
  /** usernames the registration rules now refuse (mixed scripts, invisible characters) */
  usernamesBreakingRules: (ReportedAccount & { problem: string })[];
}

export interface IdentifierPlan {
  report: IdentifierReport;
  /** rows whose stored forms change, with the values they get */
  updates: {
    id: string;
    email?: string;
    email_key?: string;
    username_key?: string;
    username_skeleton: string | null;
  }[];
}

const shown = (r: IdentifierRow): ReportedAccount => ({ id: r.id, username: r.username, email: r.email });

/**
 * New unique keys for `rows`, each row keeping its old key when its new one is shared: by another
 * row's new key, or by the old key of a row that keeps its own (repeated until nothing changes).
 */
function rekey(
  rows: IdentifierRow[],
  oldKey: (r: IdentifierRow) => string,
  newKey: (r: IdentifierRow) => string | undefined,
) {
  const groups = new Map<string, IdentifierRow[]>();
  const kept = new Set<string>();
  for (const r of rows) {
    const k = newKey(r);
    if (k === undefined) kept.add(r.id);
    else groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const collisions = new Map<string, IdentifierRow[]>();
  for (const [k, g] of groups)
    if (g.length > 1) {
      collisions.set(k, g);
      for (const r of g) kept.add(r.id);
    }
  for (let changed = true; changed; ) {
    changed = false;
    const held = new Map(rows.filter((r) => kept.has(r.id)).map((r) => [oldKey(r), r]));
    for (const [k, g] of groups) {
      const holder = held.get(k);
      if (g.length !== 1 || kept.has(g[0].id) || !holder || holder.id === g[0].id) continue;
      kept.add(g[0].id);
      collisions.set(k, [holder, g[0]]);
      changed = true;
    }
  }
  const next = new Map<string, string>();
  for (const r of rows) if (!kept.has(r.id)) next.set(r.id, newKey(r) as string);
  return { next, collisions };
}

const byAge = (a: IdentifierRow, b: IdentifierRow) =>
  a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** What the identifier rules make of `rows` (all accounts): the new stored forms and the report. */
export function planIdentifiers(all: IdentifierRow[]): IdentifierPlan {
  const rows = [...all].sort(byAge);
  const withEmail = rows.filter((r) => r.email !== null);
  const emails = rekey(
    withEmail,
    (r) => r.email_key ?? '',
    (r) => normalizeEmail(r.email as string),
  );
  const names = rekey(
    rows,
    (r) => r.username_key,
    (r) => usernameKey(r.username),
  );
  const skeletons = new Map<string, IdentifierRow[]>();
  for (const r of rows) {
    const s = usernameSkeleton(r.username);
    skeletons.set(s, [...(skeletons.get(s) ?? []), r]);
  }
  const skeletonOf = new Map<string, string | null>();
  for (const [s, g] of skeletons) for (const [i, r] of g.entries()) skeletonOf.set(r.id, i === 0 ? s : null);

  const updates: IdentifierPlan['updates'] = [];
  for (const r of rows) {
    const u: IdentifierPlan['updates'][number] = { id: r.id, username_skeleton: skeletonOf.get(r.id) ?? null };
    const email = emails.next.get(r.id);
    if (email !== undefined && (email !== r.email || email !== r.email_key))
      Object.assign(u, { email, email_key: email });
    const key = names.next.get(r.id);
    if (key !== undefined && key !== r.username_key) u.username_key = key;
    updates.push(u);
  }
  return {
    updates,
    report: {
      emailCollisions: [...emails.collisions].map(([email, g]) => ({ email, accounts: g.map(shown) })),
      unnormalisedEmails: withEmail.filter((r) => normalizeEmail(r.email as string) === undefined).map(shown),
      usernameCollisions: [...names.collisions].map(([key, g]) => ({ key, accounts: g.map(shown) })),
      confusableUsernames: [...skeletons]
        .filter(([, g]) => g.length > 1)
        .map(([skeleton, g]) => ({ skeleton, accounts: g.map(shown) })),
      usernamesBreakingRules: rows.flatMap((r) => {
        const c = checkUsername(r.username);
        return c.ok ? [] : [{ ...shown(r), problem: c.problem.code ?? 'invalid' }];
      }),
    },
  };
}

export function reportCount(r: IdentifierReport): number {
  return (
    r.emailCollisions.length +
    r.unnormalisedEmails.length +
    r.usernameCollisions.length +
    r.confusableUsernames.length +
    r.usernamesBreakingRules.length
  );
}

/**
 * Rewrites every row the plan can rewrite and returns what is left to report. Run by the 003
 * migration and by `latchkey identifiers normalise` once collisions were resolved by hand. Give it
 * a transaction.
 */
export async function applyIdentifierPlan(trx: Kysely<Database>): Promise<IdentifierReport> {
  const rows = await loadIdentifierRows(trx);
  const { updates, report } = planIdentifiers(rows);
  const skeletons = new Map(
    (await trx.selectFrom('accounts').select(['id', 'username_skeleton']).execute()).map((r) => [
      r.id,
      r.username_skeleton,
    ]),
  );
  const changing = updates.filter(
    (u) => u.email_key !== undefined || u.username_key !== undefined || skeletons.get(u.id) !== u.username_skeleton,
  );
  // Two steps, so a key moving onto another row's old key never meets it in a unique index:
  // park the moving keys (no real key has a colon without an @) and clear the moving skeletons.
  for (const u of changing) {
    const parked = `migrating:${u.id}`;
    await trx
      .updateTable('accounts')
      .set({
        ...(u.email_key !== undefined && { email_key: parked }),
        ...(u.username_key !== undefined && { username_key: parked }),
        username_skeleton: null,
      })
      .where('id', '=', u.id)
      .execute();
  }
  for (const { id, ...values } of changing)
    await trx.updateTable('accounts').set(values).where('id', '=', id).execute();
  await saveReportSummary(trx, report);
  return report;
}

export async function loadIdentifierRows(db: Kysely<Database>): Promise<IdentifierRow[]> {
  return db
    .selectFrom('accounts')
    .select(['id', 'username', 'username_key', 'email', 'email_key', 'created_at'])
    .execute();
}

const REPORT_KEY = 'identifier_report';

/** Keeps the report's counts, so every start can say whether something is left to look at. */
export async function saveReportSummary(db: Kysely<Database>, r: IdentifierReport): Promise<void> {
  const value = JSON.stringify({
    emailCollisions: r.emailCollisions.length,
    unnormalisedEmails: r.unnormalisedEmails.length,
    usernameCollisions: r.usernameCollisions.length,
    confusableUsernames: r.confusableUsernames.length,
    usernamesBreakingRules: r.usernamesBreakingRules.length,
  });
  await db
    .insertInto('meta')
    .values({ key: REPORT_KEY, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

/** One log line at start while existing accounts still share identifiers (ID-01/ID-02). */
export async function warnIdentifierCollisions(db: Kysely<Database>, log: Logger): Promise<void> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', REPORT_KEY).executeTakeFirst();
  if (!row) return;
  const counts = JSON.parse(row.value) as Record<string, number>;
  if (Object.values(counts).some((n) => n > 0))
    log.warn(
      { identifiers: counts },
      'existing accounts share a normalised email or a look-alike username, or break the username rules; they were left unchanged: run `latchkey identifiers check`',
    );
}

/** The report as lines for a person. */
export function formatReport(r: IdentifierReport): string[] {
  const who = (a: ReportedAccount) => `    ${a.id}  ${a.username}  ${a.email ?? ''}`;
  const out: string[] = [];
  for (const c of r.emailCollisions)
    out.push(`email collision: ${c.email} (${c.accounts.length} accounts, left unchanged)`, ...c.accounts.map(who));
  for (const a of r.unnormalisedEmails) out.push('email that does not normalise (left unchanged):', who(a));
  for (const c of r.usernameCollisions)
    out.push(`username collision: ${c.key} (${c.accounts.length} accounts, left unchanged)`, ...c.accounts.map(who));
  for (const c of r.confusableUsernames)
    out.push(
      `confusable usernames (skeleton ${JSON.stringify(c.skeleton)}; the oldest keeps it):`,
      ...c.accounts.map(who),
    );
  for (const a of r.usernamesBreakingRules) out.push(`username breaking the rules (${a.problem}):`, who(a));
  return out;
}
