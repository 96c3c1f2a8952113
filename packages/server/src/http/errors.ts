/** Typed HTTP errors: every refusal the API makes carries a status, a code and a message saying what to fix. */

/** An error that becomes a 4xx/5xx JSON answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** More of the answer's `error` object, for clients that act on it (e.g. a refusal's `reason` and `fields`). */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 400: the input is wrong; the message says how. */
export const badRequest = (message: string, code = 'bad_request') => new HttpError(400, code, message);
/** 401: no or invalid credentials. */
export const unauthorized = (message = 'sign in first') => new HttpError(401, 'unauthorized', message);
/** 403: signed in, but the role does not allow it. */
export const forbidden = (message = 'your role does not allow this') =>
  new HttpError(403, 'forbidden', message);
/** 404: not found in the caller's organization (foreign ids answer the same). */
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);
/** 409: conflicts with the current state. */
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

/** What the framework's own 4xx errors become: our codes and words, not Fastify's internals. */
const FRAMEWORK_ERRORS: Record<string, { code: string; message: (limit: number, detail: string) => string }> =
  {
    FST_ERR_CTP_BODY_TOO_LARGE: {
      code: 'request_too_large',
      message: (limit) => `the body is larger than the ${limit} bytes allowed`,
    },
    FST_ERR_CTP_INVALID_MEDIA_TYPE: {
      code: 'unsupported_media_type',
      message: () => 'send JSON with content-type: application/json',
    },
    FST_ERR_CTP_EMPTY_JSON_BODY: {
      code: 'invalid_json',
      message: () => 'the body is empty; send a JSON object',
    },
    FST_ERR_CTP_INVALID_JSON_BODY: {
      code: 'invalid_json',
      message: (_l, detail) => `the body is not valid JSON: ${detail}`,
    },
  };

/**
 * A 4xx raised by the framework (body parsing, size, content type) as the API reports it: the
 * status it chose, a stable code of ours and a message that says what to send instead.
 */
export function clientError(
  err: { statusCode?: number; code?: string; message: string },
  bodyLimitBytes: number,
): HttpError {
  const status = err.statusCode ?? 400;
  const known = err.code ? FRAMEWORK_ERRORS[err.code] : undefined;
  if (known) return new HttpError(status, known.code, known.message(bodyLimitBytes, err.message));
  if (err instanceof SyntaxError)
    return new HttpError(status, 'invalid_json', `the body is not valid JSON: ${err.message}`);
  const code = err.code && !err.code.startsWith('FST_') ? err.code : 'bad_request';
  return new HttpError(status, code, err.message);
}
