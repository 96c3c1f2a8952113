/** What every wire protocol adapter provides, plus small helpers they share. */
import type { IncomingHttpHeaders } from 'node:http';
import type { AnswerPlan, ChatRequest } from '../plan.js';
import type { ProtocolName } from '../types.js';

/** Errors the simulator can answer with before any content. */
export type ErrorKind =
  | 'rate_limit'
  | 'server_error'
  | 'bad_gateway'
  | 'unavailable'
  | 'gateway_timeout'
  | 'overloaded'
  | 'unauthorized'
  | 'payment_required'
  | 'forbidden'
  | 'not_found'
  | 'context_length'
  | 'content_filter'
  | 'reject_prefill'
  | 'bad_request'
  | 'missing_auth'
  | 'invalid_request'
  /** An OpenAI parameter the model does not take (a reasoning model's sampling parameters). */
  | 'unsupported_parameter';

/** Errors the simulator can send as an event inside an open stream. */
export type StreamErrorKind = Extract<ErrorKind, 'overloaded' | 'server_error' | 'rate_limit'>;

/** Facts an error message may mention. */
export interface ErrorInfo {
  model: string;
  inputTokens: number;
  contextWindow?: number;
  retryAfter?: number;
  /** For `unsupported_parameter`: which. */
  param?: string;
  /** For `invalid_request`: what is wrong. */
  message?: string;
}

/** An error response: status and JSON body. Gemini's safety block is a 200. */
export interface ErrorSpec {
  status: number;
  body: unknown;
}

/** The parts of an HTTP request an adapter looks at. */
export interface RequestContext {
  headers: IncomingHttpHeaders;
  query: URLSearchParams;
  /** Model named in the path (Azure deployment, Gemini model). */
  pathModel?: string;
  /** Streaming decided by the path (Gemini's method name). */
  pathStream?: boolean;
}

/** Per-response facts the encoders need. */
export interface EncodeContext {
  id: string;
  /** The model name echoed back: the requested one, options included. */
  model: string;
  created: number;
  plan: AnswerPlan;
  includeUsage: boolean;
  toolCallId: string;
}

/** Builds one protocol's SSE frames; stateful per response (knows whether content began). */
export interface StreamEncoder {
  /** Frames sent right after the headers, before any content. */
  head(): string;
  /** A frame that keeps an idle stream alive ('' when the protocol has none). */
  keepAlive(): string;
  /** One content token: a text word or a tool-call argument piece (index `i` in the plan). */
  chunk(i: number, text: string): string;
  /** The finish_reason / stop_reason frames, with usage. */
  finish(outputTokens: number): string;
  /** The terminator ('' for Gemini, which has none). */
  end(): string;
  /** An in-stream error event, in the protocol's own error shape. */
  error(kind: StreamErrorKind): string;
  /** A syntactically broken frame on its own line(s). */
  malformed(): string;
}

/** One wire protocol. */
export interface ProtocolAdapter {
  protocol: ProtocolName;
  /** Credential / required-header checks; an error when they fail. */
  check(ctx: RequestContext): ErrorSpec | undefined;
  /** Reads the JSON body into the neutral form; throws RequestError when invalid. */
  parse(body: unknown, ctx: RequestContext): ChatRequest;
  error(kind: ErrorKind, info: ErrorInfo): ErrorSpec;
  encoder(ctx: EncodeContext): StreamEncoder;
  /** The whole (non-streaming) answer body. */
  whole(ctx: EncodeContext, chunks: string[]): unknown;
}

/** An invalid request body; answered as the protocol's 400 invalid-request error. */
export class RequestError extends Error {
  override name = 'RequestError';
}

/** Narrows unknown JSON to an object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text of a message content: a string, or the `text` of its parts. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
    .filter((t) => t.length > 0)
    .join('\n');
}

/** A positive integer field, or undefined when absent; throws when present and invalid. */
export function optionalCount(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RequestError(`${key}: must be a positive integer`);
  }
  return value;
}

/** One SSE frame. */
export function sse(data: unknown, event?: string): string {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`;
}

/** A header's single value. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The HTTP status of each pre-content error (protocols may differ, e.g. Gemini overloaded = 503). */
export const STATUS: Record<ErrorKind, number> = {
  rate_limit: 429,
  server_error: 500,
  bad_gateway: 502,
  unavailable: 503,
  gateway_timeout: 504,
  overloaded: 529,
  unauthorized: 401,
  payment_required: 402,
  forbidden: 403,
  not_found: 404,
  context_length: 400,
  content_filter: 400,
  reject_prefill: 400,
  bad_request: 400,
  missing_auth: 401,
  invalid_request: 400,
  unsupported_parameter: 400,
};

/** The context-length numbers to report: the window (or a default) and a count above it. */
export function contextNumbers(info: ErrorInfo, defaultWindow: number): { limit: number; count: number } {
  const limit = info.contextWindow ?? defaultWindow;
  return { limit, count: info.inputTokens > limit ? info.inputTokens : Math.round(limit * 1.05) };
}
