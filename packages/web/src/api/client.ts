/**
 * The typed HTTP client of the web app. The session lives in an HttpOnly cookie; every
 * state-changing request also carries the session's CSRF token in `x-csrf-token` (the server
 * refuses it otherwise), and the browser sends a same-origin `Origin` by itself. A request an
 * instance refused because it is stopping is sent again (drainRetry.ts).
 */
import { sendThroughDrain } from './drainRetry.js';
import type { AnswerEvent } from './types.js';

/** A refused request: the server's `{ error: { code, message, reason?, fields? } }`, with the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** A 429's `Retry-After`, in seconds, when the server sent one. */
    readonly retryAfterSeconds?: number,
    /** What a refusal gives as data besides its text (settings refusals): a stable reason, the fields involved. */
    readonly refused: { reason?: string; fields: string[] } = { fields: [] },
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken = '';

/** Remembers the CSRF token of the current session (from sign-in or GET /api/auth/session). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Listeners told when the session is gone (401), so the app can show the sign-in page. */
const signedOutListeners = new Set<() => void>();

/** Calls `fn` when the session is gone (a 401 outside /api/auth); returns the unsubscribe. */
export function onSignedOut(fn: () => void): () => void {
  signedOutListeners.add(fn);
  return () => signedOutListeners.delete(fn);
}

/** Listeners told when the signed-in member's role may have changed (see onRoleMayHaveChanged). */
const roleListeners = new Set<() => void>();

/**
 * Calls `fn` when the member's role may have changed: a request was refused for the role (403
 * `role_required`), say after an Owner demoted them elsewhere. Returns the unsubscribe.
 */
export function onRoleMayHaveChanged(fn: () => void): () => void {
  roleListeners.add(fn);
  return () => roleListeners.delete(fn);
}

/** Tells the app the member's role may have changed (they changed their own), so it reads the session. */
export function roleMayHaveChanged(): void {
  for (const fn of roleListeners) fn();
}

function headersFor(method: string, hasBody: boolean): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  if (hasBody) h['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) h['x-csrf-token'] = csrfToken;
  return h;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'http_error';
  let message = `the server answered ${res.status}`;
  const refused: { reason?: string; fields: string[] } = { fields: [] };
  try {
    const body = (await res.json()) as {
      error?: { code?: string; message?: string; reason?: unknown; fields?: unknown };
    };
    if (body.error?.message) message = body.error.message;
    if (body.error?.code) code = body.error.code;
    // Read defensively: a proxy or an older server may send neither, or something else.
    if (typeof body.error?.reason === 'string') refused.reason = body.error.reason;
    const fields = body.error?.fields;
    if (Array.isArray(fields)) refused.fields = fields.filter((f): f is string => typeof f === 'string');
  } catch {
    // Not JSON (a proxy's page): the status line is all we have.
  }
  const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
  return new ApiError(
    res.status,
    code,
    message,
    Number.isFinite(retryAfter) ? retryAfter : undefined,
    refused,
  );
}

/** Sends a request; resolves with the parsed JSON (undefined for 204) or rejects with ApiError. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await sendThroughDrain(() =>
    fetch(path, {
      method,
      headers: headersFor(method, body !== undefined),
      credentials: 'same-origin',
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }),
  );
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && !path.startsWith('/api/auth/')) for (const fn of signedOutListeners) fn();
    if (res.status === 403 && err.code === 'role_required') roleMayHaveChanged();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** GET `path`, the parsed JSON body. */
export const get = <T>(path: string) => request<T>('GET', path);
/** POST `body` (an empty object when left out) to `path`. */
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
/** PUT `body` to `path`. */
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
/** PATCH `path` with `body`. */
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
/** DELETE `path`. */
export const del = (path: string) => request<undefined>('DELETE', path);

/**
 * Opens an answer's event stream (POST to send or retry, GET to reattach) and calls `onEvent` for
 * each server-sent event until the stream ends. fetch is used rather than EventSource because
 * sending is a POST, and because EventSource reconnects on its own after the answer has ended.
 */
export async function streamAnswer(
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  onEvent: (e: AnswerEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const res = await sendThroughDrain(
    () =>
      fetch(path, {
        method,
        headers: { ...headersFor(method, method === 'POST'), accept: 'text/event-stream' },
        credentials: 'same-origin',
        ...(method === 'POST' && { body: JSON.stringify(body ?? {}) }),
        ...(signal && { signal }),
      }),
    signal,
  );
  if (!res.ok || !res.body) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const parsed = parseBlock(block);
      if (parsed) onEvent(parsed);
    }
  }
}

/** One SSE block (`event:` and `data:` lines) as an AnswerEvent; comments (heartbeats) give null. */
export function parseBlock(block: string): AnswerEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (data.length === 0) return null;
  const payload = JSON.parse(data.join('\n')) as Record<string, unknown>;
  return { type: event, ...payload } as AnswerEvent;
}
