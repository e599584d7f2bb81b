import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type FieldProblem, pageMessage, toProblem } from '../errors.ts';
import { t, th } from '../i18n/index.ts';
import type { Kernel } from '../kernel.ts';
import { isOutage, OUTAGE_RETRY_AFTER_S, outageOf } from '../store/outage.ts';
import { Html, Notice, Page } from './layout.tsx';
import { apiSecurityHeaders, type SecurityHeadersDeps, securityHeaders } from './security-headers.ts';

/** What this module uses of the container the composition root builds. */
export type ErrorsDeps = Pick<Kernel, 'config' | 'metrics'> & SecurityHeadersDeps;

void Html;

export function isApi(req: FastifyRequest): boolean {
  return req.url.startsWith('/api/');
}

/** API routes, and clients that do not ask for HTML, get RFC 9457 problem details. */
function wantsProblem(req: FastifyRequest): boolean {
  return isApi(req) || !req.headers.accept?.includes('text/html');
}

/** Turns anything thrown into an AppError: framework errors by their code, the rest is internal. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & {
    validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  };
  // AV-01: the database or Redis is down or not answering; the request may be tried again.
  if (isOutage(err)) return new AppError('service_unavailable', undefined, { retryAfter: OUTAGE_RETRY_AFTER_S });
  if (e?.validation) {
    const fields: FieldProblem[] = e.validation.slice(0, 20).map((v) => ({
      field:
        (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.') ||
        String(v.params?.missingProperty ?? v.params?.additionalProperty ?? ''),
      message: v.message ?? 'invalid',
    }));
    return new AppError('validation_failed', undefined, { fields });
  }
  switch (e?.code) {
    // WEB-05: the framework's own answers echoed the path; these say nothing about it.
    case 'FST_ERR_BAD_URL':
      return new AppError('validation_failed', t('web.page.error_address_unreadable'));
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('uri_too_long');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('invalid_json');
  }
  if (e instanceof SyntaxError || e?.statusCode === 400)
    return new AppError('validation_failed', t('web.page.error_unreadable'));
  if (e?.statusCode === 404) return new AppError('not_found');
  if (e?.statusCode === 413) return new AppError('payload_too_large');
  if (e?.statusCode === 415) return new AppError('unsupported_media_type');
  if (e?.statusCode === 408) return new AppError('request_timeout');
  if (e?.statusCode === 414) return new AppError('uri_too_long');
  if (e?.statusCode === 431) return new AppError('headers_too_large');
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return new AppError('validation_failed', t('web.page.error_unreadable'));
  return new AppError('internal_error');
}

export function sendProblem(reply: FastifyReply, err: AppError): FastifyReply {
  if (err.extra.retryAfter !== undefined)
    reply.header('Retry-After', String(Math.max(1, Math.ceil(err.extra.retryAfter))));
  return reply.status(err.status).type('application/problem+json').send(toProblem(err));
}

/** The answer to an error: a problem document for the API and non-HTML clients, a page otherwise. */
function answerError(d: ErrorsDeps, err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appErr = toAppError(err);
  if (appErr.code === 'internal_error') req.log.error({ err }, 'unhandled error');
  if (appErr.code === 'service_unavailable' && !(err instanceof AppError)) {
    const dependency = outageOf(err) ?? 'unknown';
    d.metrics.unavailable.inc({ dependency });
    req.log.warn({ err, dependency }, 'dependency unavailable');
  }
  // An error is never an asset, even under /static/ (SES-04).
  reply.header('cache-control', 'no-store');
  if (wantsProblem(req)) return sendProblem(reply, appErr);
  if (appErr.extra.retryAfter !== undefined) reply.header('Retry-After', String(Math.ceil(appErr.extra.retryAfter)));
  return reply
    .status(appErr.status)
    .type('text/html; charset=utf-8')
    .send(
      Page({
        title:
          appErr.code === 'service_unavailable'
            ? t('web.page.error_unavailable_title')
            : appErr.status >= 500
              ? t('web.page.error_failed_title')
              : t('web.page.error_title'),
        productName: d.config.productName,
        children: (
          <>
            <Notice kind="error" text={appErr.status >= 500 ? appErr.title : pageMessage(appErr)} />
            <p>
              <a href="/login">{th('web.page.back_to_sign_in')}</a>
            </p>
          </>
        ),
      }),
    );
}

/**
 * WEB-05: Fastify answers a URL it cannot decode (FST_ERR_BAD_URL) or an overlong parameter
 * (FST_ERR_MAX_PARAM_LENGTH) before routing, so no hook has run: the security headers are
 * written here, then the error takes the one mapping.
 */
export function frameworkErrorHandler(
  d: ErrorsDeps,
  writeSecurityHeaders: (req: FastifyRequest, reply: FastifyReply) => void,
): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void {
  return (err, req, reply) => {
    writeSecurityHeaders(req, reply);
    answerError(d, err, req, reply);
  };
}

/**
 * WEB-05: what Node cannot parse as HTTP at all (bad request line, headers too large, a request
 * that timed out) never becomes a request; the answer is written to the socket, as Fastify's
 * default does, but as a problem document with the API's security headers and no-store.
 */
export function clientErrorHandler(d: ErrorsDeps): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  const headers = Object.entries({ ...apiSecurityHeaders(securityHeaders(d)), 'cache-control': 'no-store' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (err, socket) => {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const appErr =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('request_timeout')
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? new AppError('headers_too_large')
          : new AppError('validation_failed', t('web.page.error_unreadable'));
    const body = JSON.stringify(toProblem(appErr));
    if (socket.writable)
      socket.write(
        `HTTP/1.1 ${appErr.status} ${STATUS_CODES[appErr.status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}Connection: close\r\n\r\n${body}`,
      );
    socket.destroy(err);
  };
}

export function registerErrorHandling(app: FastifyInstance, d: ErrorsDeps): void {
  app.setErrorHandler((err, req, reply) => answerError(d, err, req, reply));
  app.setNotFoundHandler((req, reply) => {
    const err = new AppError('not_found');
    reply.header('cache-control', 'no-store');
    if (wantsProblem(req)) return sendProblem(reply, err);
    return reply
      .status(404)
      .type('text/html; charset=utf-8')
      .send(
        Page({
          title: t('web.page.not_found_title'),
          productName: d.config.productName,
          children: <p>{th('web.page.not_found_text', { link: (s) => `<a href="/login">${s}</a>` })}</p>,
        }),
      );
  });
}
