import type { Config } from '../config/index.ts';
import { systemContext } from '../context.ts';
import { closeDeps, createDeps, type Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import {
  applyIdentifierPlan,
  formatReport,
  type IdentifierReport,
  loadIdentifierRows,
  planIdentifiers,
  reportCount,
  saveReportSummary,
} from '../store/identifier-audit.ts';

/** Administrative commands that need the full container (but no HTTP server). */
export async function runAdminCommand(config: Config, command: string, args: string[], usage: string): Promise<number> {
  const d = await createDeps(config);
  try {
    if (command === 'accounts' && args[0] === 'flagged') {
      const rows = await d.db
        .selectFrom('accounts')
        .select(['id', 'username', 'email', 'flagged_at', 'flag_reason'])
        .where('flagged_at', 'is not', null)
        .orderBy('flagged_at', 'desc')
        .execute();
      if (!rows.length) console.log('no flagged accounts');
      for (const r of rows)
        console.log(
          `${new Date(r.flagged_at as number).toISOString()}  ${r.username}  ${r.email ?? ''}  ${r.flag_reason ?? ''}`,
        );
      return 0;
    }
    if (command === 'org') return await orgCommand(d, args, usage);
    if (command === 'clients') return await clientsCommand(d, args, usage);
    if (command === 'keys' && args[0] === 'rotate' && args.length === 1) {
      const r = await d.apps.rotateKeys();
      console.log(
        `new signing key ${r.kid}; ${r.retired} earlier key(s) stay published until their tokens expire. Running processes pick it up within LATCHKEY_OP_KEY_RELOAD.`,
      );
      return 0;
    }
    if (command === 'staff') return await staffCommand(d, args, usage);
    if (command === 'identifiers' && (args[0] === 'check' || args[0] === 'normalise') && args.length === 1)
      return await identifiersCheck(d, args[0] === 'normalise');
    console.error(`unknown command: ${[command, ...args].join(' ')}\n\n${usage}`);
    return 2;
  } finally {
    await closeDeps(d);
  }
}

/** Values of `--name value` options, and the remaining positional arguments. */
function options(args: string[]): { pos: string[]; opt: Record<string, string | true> } {
  const pos: string[] = [];
  const opt: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) pos.push(a);
    else if (args[i + 1] !== undefined && !args[i + 1].startsWith('--')) opt[a.slice(2)] = args[++i];
    else opt[a.slice(2)] = true;
  }
  return { pos, opt };
}

/**
 * `latchkey org create <slug> <name> [--display-name X] [--support-contact Y]` and
 * `latchkey org add-admin <slug> <username|email> [--owner]`: the only way to the first admin
 * (ADM-04: there are no default credentials). Both are audited with the command line as actor.
 */
async function orgCommand(d: Deps, args: string[], usage: string): Promise<number> {
  const [sub, ...rest] = args;
  const { pos, opt } = options(rest);
  const ctx = systemContext('cli');
  try {
    if (sub === 'create' && pos.length === 2) {
      const org = await d.organizations.create(
        {
          slug: pos[0],
          name: pos[1],
          displayName: typeof opt['display-name'] === 'string' ? opt['display-name'] : undefined,
          supportContact: typeof opt['support-contact'] === 'string' ? opt['support-contact'] : undefined,
        },
        ctx,
      );
      console.log(`created organization ${org.slug} (${org.name})`);
      return 0;
    }
    if (sub === 'add-admin' && pos.length === 2) {
      const role = opt.owner ? 'owner' : 'admin';
      const account = await d.organizations.addAdmin(pos[0], pos[1], role, ctx);
      console.log(`${account.username} is now ${role} of ${pos[0]}`);
      return 0;
    }
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    console.error(err.detail ?? err.title);
    return 1;
  }
  console.error(`usage: latchkey org create <slug> <name> [--display-name X] [--support-contact Y]
       latchkey org add-admin <slug> <username|email> [--owner]\n\n${usage}`);
  return 2;
}

/**
 * `latchkey staff add <username|email> --role support|admin`, `latchkey staff remove <username|email>`
 * and `latchkey staff list`: the only way to staff (ADM-04), audited with the command line as actor.
 */
async function staffCommand(d: Deps, args: string[], usage: string): Promise<number> {
  const [sub, ...rest] = args;
  const { pos, opt } = options(rest);
  const ctx = systemContext('cli');
  try {
    if (sub === 'add' && pos.length === 1 && typeof opt.role === 'string') {
      const r = await d.staffMembers.add(pos[0], opt.role, ctx);
      console.log(`${r.account.username} is now staff (${r.role})`);
      if (!r.hasSecondFactor)
        console.log('They have no second factor yet: the console will ask them to set one up at /settings first.');
      return 0;
    }
    if (sub === 'remove' && pos.length === 1) {
      const account = await d.staffMembers.remove(pos[0], ctx);
      console.log(`${account.username} is no longer staff`);
      return 0;
    }
    if (sub === 'list' && pos.length === 0) {
      const rows = await d.staffMembers.list();
      if (!rows.length) console.log('no staff');
      for (const r of rows)
        console.log(
          `${r.username}  ${r.role}  ${r.status}  since ${new Date(r.since).toISOString()}  ${r.hasSecondFactor ? 'second factor' : 'NO second factor'}`,
        );
      return 0;
    }
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    console.error(err.detail ?? err.title);
    return 1;
  }
  console.error(`usage: latchkey staff add <username|email> --role support|admin
       latchkey staff remove <username|email>
       latchkey staff list\n\n${usage}`);
  return 2;
}

/**
 * `latchkey identifiers check`: accounts whose emails are one mailbox once normalised, usernames
 * that are equal or look alike (UTS #39), and usernames the rules now refuse (ID-01, ID-02). Nothing
 * is merged or renamed; the counts it finds replace the ones the start-up warning reports.
 * `latchkey identifiers normalise` first rewrites the rows that no longer collide (after they were
 * resolved by hand), as the migration did for the others. Exit status 1 when anything is listed.
 */
async function identifiersCheck(d: Deps, normalise: boolean): Promise<number> {
  let report: IdentifierReport;
  if (normalise) report = await d.db.transaction().execute((trx) => applyIdentifierPlan(trx));
  else {
    report = planIdentifiers(await loadIdentifierRows(d.db)).report;
    await saveReportSummary(d.db, report);
  }
  const lines = formatReport(report);
  if (!lines.length) {
    console.log('no colliding emails or confusable usernames');
    return 0;
  }
  for (const line of lines) console.log(line);
  console.log(
    `\n${reportCount(report)} finding(s); resolve them by hand (rename, merge or remove accounts), then run \`latchkey identifiers normalise\`.`,
  );
  return 1;
}

const CLIENTS_USAGE = `usage: latchkey clients add --name <name> --redirect-uri <uri> [--redirect-uri <uri> …] [--public] [--first-party]
                           [--backchannel-logout-uri <uri>] [--post-logout-redirect-uri <uri> …]
       latchkey clients list
       latchkey clients remove <client-id>`;

/** Every value of a repeatable `--name value` option. */
function repeated(args: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) if (args[i] === `--${name}` && args[i + 1] !== undefined) out.push(args[++i]);
  return out;
}

/**
 * `latchkey clients add|list|remove`: the apps that sign in through Latchkey (OpenID Provider).
 * `add` prints the client id and, for a confidential client, its secret: the only time it is shown.
 */
async function clientsCommand(d: Deps, args: string[], usage: string): Promise<number> {
  const [sub, ...rest] = args;
  const { pos, opt } = options(rest);
  try {
    if (sub === 'add' && pos.length === 0 && typeof opt.name === 'string') {
      const { client, secret } = await d.apps.clients.add({
        name: opt.name,
        redirectUris: repeated(rest, 'redirect-uri'),
        public: opt.public === true,
        firstParty: opt['first-party'] === true,
        backchannelLogoutUri:
          typeof opt['backchannel-logout-uri'] === 'string' ? opt['backchannel-logout-uri'] : undefined,
        postLogoutRedirectUris: repeated(rest, 'post-logout-redirect-uri'),
      });
      console.log(`client_id: ${client.id}`);
      if (secret) console.log(`client_secret: ${secret}\n(shown once: store it now)`);
      console.log(`issuer: ${d.apps.issuer}`);
      return 0;
    }
    if (sub === 'list' && pos.length === 0) {
      const clients = await d.apps.clients.list();
      if (!clients.length) console.log('no clients');
      for (const c of clients)
        console.log(
          `${c.id}  ${c.name}  ${c.public ? 'public' : 'confidential'}${c.firstParty ? ' first-party' : ''}  ${c.redirectUris.join(' ')}`,
        );
      return 0;
    }
    if (sub === 'remove' && pos.length === 1) {
      await d.apps.clients.remove(pos[0]);
      console.log(`removed client ${pos[0]} and every grant and token issued to it`);
      return 0;
    }
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    console.error(err.detail ?? err.title);
    return 1;
  }
  console.error(`${CLIENTS_USAGE}\n\n${usage}`);
  return 2;
}
