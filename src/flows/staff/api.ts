import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Kernel } from '../../kernel.ts';
import { contextOf } from '../../web/request.ts';
import { responses, Str } from '../../web/schemas.ts';
import { ACTIONS, type StaffAction, type StaffActions } from './actions.ts';
import { type AdminApiDeps, apiAction, apiViewer } from './api-guard.ts';
import type { AuditTrail } from './audit-trail.ts';
import type { AccountDirectory } from './directory.ts';
import { sendAuditExport } from './pages.tsx';

/** What this module uses of the container the composition root builds. */
export type StaffApiDeps = AdminApiDeps &
  Pick<Kernel, 'audit'> & { staffDirectory: AccountDirectory; staffActions: StaffActions; auditTrail: AuditTrail };

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Time = Type.String({ format: 'date-time' });

const AccountSummary = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  status: Type.String(),
  createdAt: Time,
  flagged: Type.Boolean(),
  staff: Type.Boolean(),
  match: Type.String({ description: 'username, email or phone, and "prefix" unless exact' }),
});

const AuditRecord = Type.Object({
  at: Time,
  event: Type.String(),
  accountId: Nullable(Type.String()),
  actorId: Nullable(Type.String()),
  actor: Nullable(Type.String({ description: "the actor's username" })),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

const AccountDetail = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Nullable(Type.String()),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  phoneVerified: Type.Boolean(),
  status: Type.String(),
  createdAt: Time,
  activatedAt: Nullable(Time),
  lastSignInAt: Nullable(Time),
  passwordChangedAt: Nullable(Time),
  hasPassword: Type.Boolean(),
  locked: Type.Boolean({ description: 'sign-in is locked after repeated failures' }),
  flag: Type.Union([Type.Object({ at: Time, reason: Nullable(Type.String()) }), Type.Null()]),
  staffRole: Nullable(Type.String()),
  organization: Type.Object({ slug: Type.String(), name: Type.String() }),
  organizationRoles: Type.Array(Type.Object({ slug: Type.String(), role: Type.String() })),
  sessions: Type.Array(
    Type.Object({
      handle: Type.String({ description: 'names the session for "end one session"; not its id' }),
      createdAt: Time,
      lastSeenAt: Time,
      expiresAt: Time,
      method: Type.String(),
      ip: Nullable(Type.String()),
      userAgent: Nullable(Type.String()),
    }),
  ),
  identities: Type.Array(
    Type.Object({
      provider: Type.String(),
      email: Nullable(Type.String()),
      displayName: Nullable(Type.String()),
      linkedAt: Time,
      lastUsedAt: Nullable(Time),
    }),
  ),
  secondFactors: Type.Array(
    Type.Object({
      kind: Type.String(),
      name: Type.String(),
      createdAt: Time,
      confirmed: Type.Boolean(),
      lastUsedAt: Nullable(Time),
      flaggedAt: Nullable(Time),
    }),
  ),
  recoveryCodesLeft: Type.Integer(),
  pendingResets: Type.Array(Type.Object({ method: Type.String(), expiresAt: Time })),
  audit: Type.Array(AuditRecord),
});

const IdParams = Type.Object({ id: Str(64, { minLength: 1 }) });
const actionIds = Object.keys(ACTIONS) as StaffAction[];

const AuditQuery = Type.Object(
  {
    account: Type.Optional(Str(320, { description: 'username, email or account id' })),
    actor: Type.Optional(Str(320, { description: 'username, email or account id of who acted' })),
    event: Type.Optional(Str(65, { description: 'an event name, or a prefix ending in * (staff.*)' })),
    from: Type.Optional(Str(40, { description: 'ISO 8601 date or time, inclusive' })),
    to: Type.Optional(Str(40, { description: 'ISO 8601 date or time, inclusive' })),
  },
  { additionalProperties: false },
);

const GUARD_NOTE =
  'Staff (support, admin) and the owners and admins of the account’s organization only; others get 403, audited (ADM-05). The session must have proved a second factor, else 403 `staff_second_factor_required` (ADM-07).';

export function registerStaffApi(app: FastifyInstance, d: StaffApiDeps): void {
  app.get(
    '/api/v1/admin/accounts',
    {
      schema: {
        tags: ['admin'],
        summary: 'Search accounts by username, email or phone (staff console)',
        description: `Exact and prefix matches on the normalised keys, exact matches first, at most 50. Organization owners and admins see their organization's members only. ${GUARD_NOTE}`,
        querystring: Type.Object(
          { q: Str(320, { minLength: 1 }), exact: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0')])) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ accounts: Type.Array(AccountSummary) }) }, [400, 401, 403]),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'read', 'accounts.search');
      const query = req.query as { q: string; exact?: string };
      const accounts = await d.staffDirectory.search(v, query.q, query.exact === '1');
      return reply.header('cache-control', 'no-store').send({ accounts });
    },
  );

  app.get(
    '/api/v1/admin/accounts/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One account for staff: status, sessions, linked accounts, second factors, flags, recent audit',
        description: `Never a password hash, token, code or session id: sessions are named by a handle. ${GUARD_NOTE}`,
        params: IdParams,
        response: responses({ 200: AccountDetail }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'read', 'accounts.read');
      const ctx = contextOf(req);
      const account = await d.staffGuard.account(v, (req.params as { id: string }).id, 'read', ctx, 'accounts.read');
      return reply.header('cache-control', 'no-store').send(await d.staffDirectory.detail(account, ctx));
    },
  );

  app.post(
    '/api/v1/admin/accounts/:id/actions/:action',
    {
      schema: {
        tags: ['admin'],
        summary: 'A staff action on an account (audited, the user is told by mail)',
        description: `\`reset\` sends the account a reset link and code by its own methods (staff never see or set a password; the answer says until when they work); \`end_sessions\` ends one session (\`session\`: its handle) or all; \`unlock\` clears sign-in failures; \`resend_activation\`; \`clear_flag\`; \`disable\` (ends every session at once) and \`enable\`; \`remove_second_factors\` (needs \`identityCheck\`: what was checked, ADM-03). support and organization admins: reset, end_sessions, unlock, resend_activation, clear_flag; admin and organization owners also disable, enable, remove_second_factors. Every action needs a written \`reason\` (8-500 characters) and a sign-in within LATCHKEY_REAUTH_WINDOW (else 401 \`reauthentication_required\`). ${GUARD_NOTE}`,
        params: Type.Object({
          id: Str(64, { minLength: 1 }),
          action: Type.Union(actionIds.map((a) => Type.Literal(a))),
        }),
        body: Type.Object(
          {
            reason: Str(2000, { description: 'why; kept in the audit trail' }),
            session: Type.Optional(Str(64, { description: 'end_sessions: the handle of one session' })),
            identityCheck: Type.Optional(Str(2000, { description: 'remove_second_factors: the identity check made' })),
          },
          { additionalProperties: false },
        ),
        response: responses(
          {
            200: Type.Object({
              action: Type.String(),
              message: Type.String(),
              sent: Type.Optional(Type.Array(Type.Object({ method: Type.String(), expiresAt: Time }))),
              count: Type.Optional(Type.Integer()),
            }),
          },
          [400, 401, 403, 404, 409, 413],
        ),
      },
    },
    async (req, reply) => {
      const { id, action } = req.params as { id: string; action: StaffAction };
      const body = req.body as { reason: string; session?: string; identityCheck?: string };
      const cap = ACTIONS[action].cap;
      const ctx = contextOf(req);
      const { viewer, reason } = await apiAction(d, req, cap, `accounts.${action}`, body.reason);
      const account = await d.staffGuard.account(viewer, id, cap, ctx, `accounts.${action}`);
      const result = await d.staffActions.run(
        viewer,
        account,
        action,
        { reason, session: body.session || undefined, identityCheck: body.identityCheck },
        ctx,
      );
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  app.get(
    '/api/v1/admin/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit trail, newest first, filtered (staff only)',
        description:
          'Filters: account and actor (username, email or id), event (exact, or a prefix ending in *), from/to (ISO 8601). 100 records a page; `next` is the cursor of the following page. Staff (support, admin) only: others get 403, audited.',
        querystring: Type.Object(
          { ...AuditQuery.properties, cursor: Type.Optional(Str(100)) },
          { additionalProperties: false },
        ),
        response: responses(
          { 200: Type.Object({ records: Type.Array(AuditRecord), next: Type.Union([Type.String(), Type.Null()]) }) },
          [400, 401, 403],
        ),
      },
    },
    async (req, reply) => {
      await apiViewer(d, req, 'audit', 'audit.read');
      const query = req.query as Record<string, string | undefined>;
      const page = await d.auditTrail.page(await d.auditTrail.filter(query), query.cursor);
      return reply.header('cache-control', 'no-store').send({ records: page.rows, next: page.next });
    },
  );

  app.get(
    '/api/v1/admin/audit/export',
    {
      schema: {
        tags: ['admin'],
        summary: 'Export the audit trail as JSON lines or CSV, streamed (staff only)',
        description:
          'The same filters as GET /api/v1/admin/audit, every matching record, newest first. CSV cells a spreadsheet would read as a formula start with an apostrophe. The export itself is audited.',
        querystring: Type.Object(
          { ...AuditQuery.properties, format: Type.Optional(Type.Union([Type.Literal('jsonl'), Type.Literal('csv')])) },
          { additionalProperties: false },
        ),
        response: {
          200: { description: 'application/x-ndjson or text/csv', type: 'string' },
          ...responses({}, [400, 401, 403]),
        },
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'audit', 'audit.export');
      const query = req.query as Record<string, string | undefined>;
      const filter = await d.auditTrail.filter(query);
      return sendAuditExport(d, req, reply, v, filter, query.format === 'csv' ? 'csv' : 'jsonl');
    },
  );
}
