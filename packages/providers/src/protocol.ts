/** What each wire-protocol folder provides to the shared stream driver. */
import type { ChatRequest, ModelTarget, ProviderConfig, ProviderEvent } from '@understudy/engine';
import type { HttpCall } from './http/index.js';
import type { SseEvent } from './sse/index.js';

/**
 * Turns one protocol's response into canonical events. Methods return the events a piece of the
 * response produces and throw a `ProviderError` for an error the provider reported.
 */
export interface ResponseParser {
  /** One SSE event of a streaming response. */
  event(ev: SseEvent): ProviderEvent[];
  /** A whole JSON body, for servers that ignore `stream: true`. */
  json(body: unknown): ProviderEvent[];
  /** The response ended (cleanly at the HTTP level). */
  end(): ProviderEvent[];
  /** The protocol's explicit terminator was seen (`[DONE]`, `message_stop`): stop reading. */
  readonly done: boolean;
}

/** A prepared call: the HTTP request plus a parser holding any per-call state (e.g. prefill). */
export interface PreparedCall {
  http: HttpCall;
  parser: ResponseParser;
}

/** One wire protocol. */
export interface WireProtocol {
  readonly name: string;
  /** Builds the upstream request and its response parser. */
  prepare(target: ModelTarget, request: ChatRequest): PreparedCall;
  /** A cheap authenticated GET (the model list) used to test a provider without a model. */
  probe(provider: ProviderConfig): HttpCall;
}

/**
 * Secrets to strip from anything a call reports: the key, and the values of custom headers, which
 * gateways often authenticate with (`X-Api-Key`).
 */
export function secretsOf(provider: ProviderConfig): (string | undefined)[] {
  return provider.headers ? [provider.apiKey, ...Object.values(provider.headers)] : [provider.apiKey];
}

/** A base URL without trailing slashes, so `${base}/path` never doubles them. */
export function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * Configured extra headers plus the protocol's own (lower-case) headers. The protocol's win,
 * whatever case the configured name was written in, so no key header is ever sent twice.
 */
export function withHeaders(provider: ProviderConfig, own: Record<string, string>): Record<string, string> {
  const extra = Object.entries(provider.headers ?? {}).filter(([name]) => !(name.toLowerCase() in own));
  return { ...Object.fromEntries(extra), ...own };
}
