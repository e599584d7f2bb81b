import { type TSchema, Type } from '@sinclair/typebox';

// Bounds on every field: the body limit stops megabyte payloads, these stop silly ones early.
export const Str = (maxLength: number, extra: Record<string, unknown> = {}) => Type.String({ maxLength, ...extra });
export const Identifier = Str(320, { minLength: 1, description: 'username or email address' });
/** Passwords are bounded in code points by the policy; 4x covers any UTF-16 encoding of the cap. */
export const Password = Str(1024, { minLength: 1 });
/**
 * The CAPTCHA round trip for API callers (BF-04), told where the field is documented so a
 * `captcha_required` answer is never a dead end.
 */
export const CAPTCHA_HELP =
  'CAPTCHA solution, needed when an answer was `captcha_required` (or always, for registration and reset when a CAPTCHA is on). ' +
  'With ALTCHA: fetch `GET /api/v1/captcha/challenge`, solve it (altcha-lib `solveChallenge`) and send ' +
  'base64(JSON `{challenge, solution}`), the challenge as received and the solution found. With Turnstile, hCaptcha or reCAPTCHA: the token their widget returns.';
export const Captcha = Type.Optional(
  Str(20000, {
    description: CAPTCHA_HELP,
    examples: [
      'eyJjaGFsbGVuZ2UiOnsicGFyYW1ldGVycyI6eyJhbGdvcml0aG0iOiJTSEEtMjU2Iiwibm9uY2UiOiLigKYifSwic2lnbmF0dXJlIjoi4oCmIn0sInNvbHV0aW9uIjp7ImNvdW50ZXIiOjQxMjM3fX0=',
    ],
  }),
);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String(), code: Type.Optional(Type.String()) })),
    ),
    reasons: Type.Optional(Type.Array(Type.Object({ code: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

/** Response map with the usual problem answers, for OpenAPI. */
export function responses(ok: Record<number, TSchema>, problems: number[] = [400, 429]) {
  const out: Record<number, TSchema> = { ...ok };
  for (const s of problems) out[s] = Type.Ref('Problem');
  return out;
}

export const Message = Type.Object({ message: Type.String() });

/** The Content-Type Fastify gives the JSON it serialises, for answers a route serialises itself. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** OpenAPI: the operation needs the session cookie (components.securitySchemes.session). */
export const SESSION = [{ session: [] }];

/** OpenAPI: the operation needs the half-finished sign-in's pending cookie (MFA-07), not a session. */
export const PENDING = [{ pending: [] }];

/** OpenAPI: the operation needs no credential (its 401 is about what the body proves). */
export const NO_CREDENTIAL: { [scheme: string]: string[] }[] = [];
