/** Event helpers shared by the protocol parsers. */
import { classifyUpstream, redact, type ProviderError, type ProviderEvent } from '@understudy/engine';
import { failureFromJson } from './http/index.js';
import { isObject, parseJson, truncate, type JsonObject } from './json.js';

/** The `malformed` event for a chunk that could not be parsed (skipped and counted, never fatal). */
export function malformed(data: string, secrets: readonly (string | undefined)[]): ProviderEvent {
  return { type: 'malformed', detail: redact(`unparseable chunk: ${truncate(data, 200)}`, secrets) };
}

/** Parses an SSE data field as a JSON object; undefined when it is not one. */
export function parseChunk(data: string): JsonObject | undefined {
  const parsed = parseJson(data);
  return parsed.ok && isObject(parsed.value) ? parsed.value : undefined;
}

/** The error for a provider's error event inside an open stream. */
export function streamError(value: unknown, secrets: readonly (string | undefined)[]): ProviderError {
  const f = failureFromJson(value) ?? { message: 'provider sent an error event' };
  return classifyUpstream({ ...f, inStream: true }, secrets);
}
