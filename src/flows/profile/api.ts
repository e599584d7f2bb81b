import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { t } from '../../i18n/index.ts';
import { isoTime } from '../../security/clock.ts';
import { clearSessionCookie, contextOf, type RequestDeps, requireAuth } from '../../web/request.ts';
import { responses, Str } from '../../web/schemas.ts';
import type { AccountDeletion } from './deletion.ts';
import type { ProfileService } from './service.ts';

/** What this module uses of the container the composition root builds. */
export type ProfileApiDeps = { profile: ProfileService; deletion: AccountDeletion } & RequestDeps;

const EmailChange = Type.Object({ message: Type.String(), pending: Type.String() });

export function registerProfileApi(app: FastifyInstance, d: ProfileApiDeps): void {
  app.put(
    '/api/v1/account/email',
    {
      schema: {
        tags: ['account'],
        summary: 'Change the email address: mails a link and a code to the new one (needs a recent sign-in)',
        description:
          'The address is normalised and checked as at registration (ID-01) and needs a sign-in within LATCHKEY_REAUTH_WINDOW (SES-07, else 401 `reauthentication_required`). Nothing changes until `POST /account/email/confirmation` with the code or the link token; the old address is then told (ID-03, LOG-03). An address that belongs to another account gets the same 202 (its owner gets a mail instead, ENUM-03). Rate-limited per account, address and IP.',
        body: Type.Object({ email: Str(320, { minLength: 1, examples: ['new.address@example.com'] }) }),
        response: responses({ 202: EmailChange }, [400, 401, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const result = await d.profile.startEmailChange(auth, req.body as { email: string }, contextOf(req));
      return reply.status(202).header('cache-control', 'no-store').send(result);
    },
  );

  app.post(
    '/api/v1/account/email/confirmation',
    {
      schema: {
        tags: ['account'],
        summary: 'Confirm the new email address with the mailed code (signed in) or link token',
        description:
          'With `code`: needs the session of the account that asked; five wrong tries end the code (REC-06). With `token` (from the link): no session needed. Either works once and within 30 minutes; the newest request replaces earlier ones (REC-02).',
        body: Type.Union([
          Type.Object({ code: Str(32, { minLength: 1 }) }, { additionalProperties: false }),
          Type.Object({ token: Str(128, { minLength: 1 }) }, { additionalProperties: false }),
        ]),
        response: responses({ 200: Type.Object({ email: Type.String() }) }, [400, 401, 409, 429]),
      },
    },
    async (req, reply) => {
      const body = req.body as { code?: string; token?: string };
      const ctx = contextOf(req);
      const { email } =
        body.token !== undefined
          ? await d.profile.confirmEmailWithToken({ token: body.token }, ctx)
          : await d.profile.confirmEmailWithCode(await requireAuth(d, req), { code: body.code ?? '' }, ctx);
      return reply.header('cache-control', 'no-store').send({ email });
    },
  );

  app.put(
    '/api/v1/account/username',
    {
      schema: {
        tags: ['account'],
        summary: 'Change the username (needs a recent sign-in)',
        description:
          "Checked as at registration (ID-02): NFKC, one script, no invisible characters; a taken name is 409, a look-alike of another account's 400 `confusable`. Needs a sign-in within LATCHKEY_REAUTH_WINDOW (SES-07). The email address on file is told (ID-03). Rate-limited per account and IP.",
        body: Type.Object({ username: Str(64, { minLength: 1, examples: ['new_name'] }) }),
        response: responses({ 200: Type.Object({ username: Type.String() }) }, [400, 401, 409, 429]),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const result = await d.profile.changeUsername(auth, req.body as { username: string }, contextOf(req));
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  app.post(
    '/api/v1/account/deletion',
    {
      schema: {
        tags: ['account'],
        summary: 'Delete the account after a grace period (needs a recent sign-in)',
        description:
          'Needs a sign-in within LATCHKEY_REAUTH_WINDOW (SES-07) and the username typed again in `confirm`. Every session ends at once (this cookie too) and a mail confirms the request; the data is removed at `deletionDueAt` (LATCHKEY_DELETION_GRACE later). Signing in before then cancels the deletion.',
        body: Type.Object({ confirm: Str(256, { minLength: 1, description: 'the username, typed again' }) }),
        response: responses(
          { 202: Type.Object({ message: Type.String(), deletionDueAt: Type.String() }) },
          [400, 401, 429],
        ),
      },
    },
    async (req, reply) => {
      const auth = await requireAuth(d, req);
      const { dueAt } = await d.deletion.request(auth, req.body as { confirm: string }, contextOf(req));
      clearSessionCookie(d, reply);
      return reply
        .status(202)
        .header('cache-control', 'no-store')
        .send({
          message: t('profile.deletion_requested'),
          deletionDueAt: isoTime(dueAt),
        });
    },
  );
}
