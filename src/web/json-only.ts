import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { t } from '../i18n/index.ts';

const NO_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json$/;

/**
 * WEB-05: the form parser is registered for the pages, so without this the JSON API would also
 * act on `application/x-www-form-urlencoded` bodies, the one kind a cross-site HTML form can
 * send without a preflight. API requests with a body of any other type are refused (415) before
 * the body is read (onRequest runs after routing, before the body parser). Pages keep their forms.
 */
export function jsonOnlyRefusal(req: FastifyRequest): AppError | undefined {
  // The matched route, not the URL as sent: the router decodes the path first, so `/%61pi/...`
  // reaches an /api/ route. Without a match (404) nothing acts on the body.
  const route = req.routeOptions.url;
  if (NO_BODY.has(req.method) || route === undefined || !route.startsWith('/api/')) return;
  const type = req.headers['content-type'];
  if (type === undefined) return;
  const semi = type.indexOf(';');
  const media = (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
  if (!JSON_TYPE.test(media)) return new AppError('unsupported_media_type', t('web.page.send_json'));
}
