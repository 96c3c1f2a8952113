/**
 * What every /api and /v1 response carries, and how the framework's own refusals of a URL (before
 * any route or hook runs) answer there in the product's shapes instead of Fastify's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Never stored by a browser or a proxy (some answers carry secrets: a new API key, an invitation
 * link, the CSRF token), never sniffed into another content type.
 */
export const API_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

const SLASH = 47;
const QUESTION = 63;

/** Which API a request URL is on: `api` (/api…), `v1` (/v1…), or neither (web app, health, metrics). */
export function apiSurface(url: string): 'api' | 'v1' | undefined {
  const surface = url.startsWith('/api') ? 'api' : url.startsWith('/v1') ? 'v1' : undefined;
  if (surface === undefined) return undefined;
  // `/api`, `/api/…`, `/api?…`, but not `/apis` (a page of the web app).
  const next = url.charCodeAt(surface.length + 1);
  return Number.isNaN(next) || next === SLASH || next === QUESTION ? surface : undefined;
}

/** Installs the hook giving every /api and /v1 response API_HEADERS; register it before the guard. */
export function installApiHeaders(app: FastifyInstance): void {
  // A callback hook with constant lower-case names and values: nothing is allocated per request
  // (/v1 is the benchmarked path); event streams, written raw, carry the same in SSE_HEADERS.
  app.addHook('onRequest', (request, reply, done) => {
    if (apiSurface(request.url) !== undefined)
      reply
        .header('cache-control', API_HEADERS['cache-control'])
        .header('x-content-type-options', API_HEADERS['x-content-type-options']);
    done();
  });
}

/** What the framework's URL refusals become: our status, code and words. */
const URL_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'bad_url',
    message: 'the URL is not valid: each % must start an escape of UTF-8 bytes (a space is %20)',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    code: 'url_too_long',
    message: 'a part of the URL path is longer than the 1000 characters allowed',
  },
};

/**
 * Fastify's `frameworkErrors`: a URL its router refuses (a bad percent escape, a path parameter
 * too long) never reaches the error handlers, so it is answered here, in OpenAI's shape on /v1
 * (`v1Body`) and `{ error: { code, message } }` elsewhere, with API_HEADERS.
 */
export function frameworkErrors(
  v1Body: (status: number, code: string, message: string) => unknown,
): (
  err: { code?: string; statusCode?: number; message: string },
  request: FastifyRequest,
  reply: FastifyReply,
) => void {
  return (err, request, reply) => {
    const known = err.code ? URL_ERRORS[err.code] : undefined;
    const { status, code, message } = known ?? {
      status: err.statusCode ?? 500,
      code: (err.statusCode ?? 500) < 500 ? 'bad_request' : 'internal',
      message: (err.statusCode ?? 500) < 500 ? err.message : 'internal error; the server log has details',
    };
    if (status >= 500) request.log.error({ err }, 'request failed in the router');
    const surface = apiSurface(request.raw.url ?? '');
    void reply
      .code(status)
      .headers(API_HEADERS)
      .send(surface === 'v1' ? v1Body(status, code, message) : { error: { code, message } });
  };
}
