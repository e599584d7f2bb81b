import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { t } from '../../i18n/index.ts';
import { REVIEW_KINDS, REVIEW_OUTCOMES } from '../../store/review-items.ts';
import { contextOf } from '../../web/request.ts';
import { Message, responses, Str } from '../../web/schemas.ts';
import { type AdminApiDeps, apiAction, apiViewer } from '../staff/api-guard.ts';
import { MESSAGE_MAX } from '../support/service.ts';
import { AGE_FILTERS, NOTE_MAX, type ReviewService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ReviewApiDeps = AdminApiDeps & { review: ReviewService };

const Kind = Type.Union(
  Object.keys(REVIEW_KINDS).map((k) => Type.Literal(k)),
  { description: 'why the item is in the queue' },
);
const Entry = Type.Object({
  id: Type.String(),
  kind: Kind,
  kindLabel: Type.String(),
  reason: Type.String(),
  openedAt: Type.Integer({ description: 'epoch milliseconds' }),
  account: Type.Union([Type.Object({ id: Type.String(), username: Type.String() }), Type.Null()]),
  orgId: Type.Union([Type.String(), Type.Null()]),
  assignedTo: Type.Union([Type.String(), Type.Null()], { description: 'username of the staff member' }),
  resolvedAt: Type.Union([Type.Integer(), Type.Null()]),
  outcome: Type.Union([Type.String(), Type.Null()]),
});
const Detail = Type.Intersect([
  Type.Omit(Entry, ['account']),
  Type.Object({
    details: Type.Record(Type.String(), Type.Unknown()),
    account: Type.Union([
      Type.Object({
        id: Type.String(),
        username: Type.String(),
        status: Type.String(),
        flaggedAt: Type.Union([Type.Integer(), Type.Null()]),
      }),
      Type.Null(),
    ]),
    notes: Type.Array(
      Type.Object({
        id: Type.String(),
        author: Type.Union([Type.String(), Type.Null()]),
        body: Type.String(),
        at: Type.Integer(),
      }),
    ),
    activity: Type.Array(
      Type.Object({
        at: Type.Integer(),
        event: Type.String(),
        ip: Type.Union([Type.String(), Type.Null()]),
        actor: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
    request: Type.Union([
      Type.Object({
        ref: Type.String(),
        status: Type.String(),
        createdAt: Type.Integer(),
        identifier: Type.String(),
        contact: Type.String(),
        messages: Type.Array(Type.Object({ from: Type.String(), body: Type.String(), at: Type.Integer() })),
      }),
      Type.Null(),
    ]),
  }),
]);
const Params = Type.Object({ id: Str(64) });
const DENIED = [400, 401, 403, 404, 409];

export function registerReviewApi(app: FastifyInstance, d: ReviewApiDeps): void {
  app.get(
    '/api/v1/admin/queue',
    {
      schema: {
        tags: ['admin'],
        summary: 'The review queue, oldest first, and the open count per kind',
        description:
          'Accounts flagged by repeated resets (LOG-04), lockouts at the hard cap, passkey counters that went backwards, "This wasn\'t me" reports and support requests. Staff see the whole install; organization owners and admins only their organization\'s accounts (ADM-05).',
        querystring: Type.Object({
          kind: Type.Optional(Str(40, { description: Object.keys(REVIEW_KINDS).join(', ') })),
          org: Type.Optional(Str(64, { description: 'organization id' })),
          age: Type.Optional(
            Str(8, { description: `opened at least this long ago: ${Object.keys(AGE_FILTERS).join(', ')}` }),
          ),
          status: Type.Optional(
            Type.Union([Type.Literal('open'), Type.Literal('resolved')], {
              description: 'open (default) or resolved items',
            }),
          ),
        }),
        response: responses(
          { 200: Type.Object({ counts: Type.Record(Type.String(), Type.Integer()), items: Type.Array(Entry) }) },
          [400, 401, 403],
        ),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'read', 'queue.list');
      const q = req.query as { kind?: string; org?: string; age?: string; status?: string };
      return reply
        .header('cache-control', 'no-store')
        .send(await d.review.list(v, { ...q, resolved: q.status === 'resolved' }));
    },
  );

  app.get(
    '/api/v1/admin/queue/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One review item: why, when, what happened since, notes, and the support conversation',
        description:
          'The account’s audit trail from a day before the item was opened (newest first, with the acting staff member), the internal notes, and for a support request the identifier and contact address as given and the conversation. 403 (audited) for an item outside the viewer’s organizations.',
        params: Params,
        response: responses({ 200: Detail }, [401, 403, 404]),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'read', 'queue.view');
      const { id } = req.params as { id: string };
      return reply.header('cache-control', 'no-store').send(await d.review.detail(v, id, contextOf(req)));
    },
  );

  app.post(
    '/api/v1/admin/queue/:id/assign',
    {
      schema: {
        tags: ['admin'],
        summary: 'Assign the item to me',
        description: 'Audited as `review.assigned`; 409 when the item is already resolved.',
        params: Params,
        response: responses({ 200: Message }, DENIED),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'assist', 'queue.assign');
      await d.review.assign(v, (req.params as { id: string }).id, contextOf(req));
      return reply.send({ message: t('review.api.assigned') });
    },
  );

  app.post(
    '/api/v1/admin/queue/:id/notes',
    {
      schema: {
        tags: ['admin'],
        summary: 'Add an internal note (never shown to the account owner)',
        description:
          'For example the identity check made before removing second factors. Audited as `review.noted`; the text stays in the queue, not in the audit trail.',
        params: Params,
        body: Type.Object({ body: Str(NOTE_MAX * 2, { minLength: 1 }) }),
        response: responses({ 201: Message }, [...DENIED, 413]),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'assist', 'queue.note');
      await d.review.note(v, (req.params as { id: string }).id, (req.body as { body: string }).body, contextOf(req));
      return reply.status(201).send({ message: t('review.done.noted') });
    },
  );

  app.post(
    '/api/v1/admin/queue/:id/resolve',
    {
      schema: {
        tags: ['admin'],
        summary: 'Resolve the item with an outcome and a written reason',
        description:
          'A staff action (ADM-07): needs a recent sign-in and a reason, kept in the audit trail. Resolving a flag clears the account’s flag; resolving a support request closes it.',
        params: Params,
        body: Type.Object({
          outcome: Str(40, { description: Object.keys(REVIEW_OUTCOMES).join(', ') }),
          reason: Str(1000, { description: 'why (8 to 500 characters)' }),
        }),
        response: responses({ 200: Message }, DENIED),
      },
    },
    async (req, reply) => {
      const body = req.body as { outcome: string; reason: string };
      const { viewer, reason } = await apiAction(d, req, 'assist', 'queue.resolve', body.reason);
      await d.review.resolve(viewer, (req.params as { id: string }).id, body.outcome, reason, contextOf(req));
      return reply.send({ message: t('review.done.resolved') });
    },
  );

  app.post(
    '/api/v1/admin/queue/:id/reply',
    {
      schema: {
        tags: ['admin'],
        summary: 'Reply to the support request behind the item',
        description:
          'The reply is mailed (through the outbox) to the contact address the request gave and shows on its status page.',
        params: Params,
        body: Type.Object({ body: Str(MESSAGE_MAX * 2, { minLength: 1 }) }),
        response: responses({ 202: Message }, [...DENIED, 413]),
      },
    },
    async (req, reply) => {
      const v = await apiViewer(d, req, 'assist', 'queue.reply');
      await d.review.reply(v, (req.params as { id: string }).id, (req.body as { body: string }).body, contextOf(req));
      return reply.status(202).send({ message: t('review.api.replied') });
    },
  );
}
