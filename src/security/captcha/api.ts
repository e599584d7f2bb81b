import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import { responses } from '../../web/schemas.ts';
import { AltchaCaptcha, CHALLENGE_PATH } from './altcha.ts';

/** What this module uses of the container the composition root builds. */
export type CaptchaApiDeps = Pick<Kernel, 'captcha'>;

/**
 * ALTCHA's own translations of its widget words ("I'm not a robot", "Verified") for the languages
 * Latchkey ships besides English (built in); the widget picks one by the page's <html lang>.
 */
const WIDGET_LANGUAGES = ['de', 'fr-fr', 'es-es', 'pt-br', 'ar'];

/** The ALTCHA widget files, served from our own origin so CSP `script-src 'self'` holds. */
function widgetAssets(): { script: string; css: string; worker: string } {
  const external = dirname(fileURLToPath(import.meta.resolve('altcha/external')));
  // The "external" build carries no inline styles or blob workers; we register the worker file.
  const register = `\n;(() => {\n  const sha = () => new Worker('/static/altcha/worker-sha.js');\n  for (const a of ['SHA-256', 'SHA-384', 'SHA-512']) globalThis.$altcha.algorithms.set(a, sha);\n})();\n`;
  // Each translation is a UMD bundle (its own function scope), so they concatenate safely.
  const languages = WIDGET_LANGUAGES.map(
    (l) => `\n;${readFileSync(join(external, '..', 'i18n', `${l}.umd.cjs`), 'utf8')}`,
  );
  return {
    script: readFileSync(join(external, 'altcha.js'), 'utf8') + register + languages.join(''),
    css: readFileSync(join(external, 'altcha.css'), 'utf8'),
    worker: readFileSync(join(external, '..', 'workers', 'sha.js'), 'utf8'),
  };
}

export function registerCaptchaApi(app: FastifyInstance, d: CaptchaApiDeps): void {
  const captcha = d.captcha;
  app.get(
    CHALLENGE_PATH,
    {
      schema: {
        tags: ['captcha'],
        summary: 'A fresh ALTCHA proof-of-work challenge (when LATCHKEY_CAPTCHA=altcha)',
        description:
          'Solve it (the ALTCHA widget or altcha-lib `solveChallenge`) and send the base64 payload as `captcha` (API) or `altcha` (forms). A payload is accepted once, before the challenge expires.',
        response: responses(
          {
            200: Type.Object(
              { parameters: Type.Object({}, { additionalProperties: true }), signature: Type.Optional(Type.String()) },
              { additionalProperties: true },
            ),
          },
          [404],
        ),
      },
    },
    async (_req, reply) => {
      if (!(captcha instanceof AltchaCaptcha)) throw new AppError('not_found', t('captcha.altcha_not_enabled'));
      return reply.header('Cache-Control', 'no-store').send(await captcha.challenge());
    },
  );

  if (captcha instanceof AltchaCaptcha) {
    const assets = widgetAssets();
    const serve = (path: string, type: string, body: string) =>
      app.get(path, { schema: { hide: true } }, async (_req, reply) =>
        reply.type(type).header('Cache-Control', 'public, max-age=3600').send(body),
      );
    serve('/static/altcha/altcha.js', 'text/javascript; charset=utf-8', assets.script);
    serve('/static/altcha/altcha.css', 'text/css; charset=utf-8', assets.css);
    serve('/static/altcha/worker-sha.js', 'text/javascript; charset=utf-8', assets.worker);
  }
}
