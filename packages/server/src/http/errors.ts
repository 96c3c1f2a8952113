/** Typed HTTP errors: every refusal the API makes carries a status, a code and a message saying what to fix. */

/** An error that becomes a 4xx/5xx JSON answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
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
