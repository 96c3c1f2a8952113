/** The `ProviderClient` the engine uses: picks the wire protocol from the provider's type. */
import {
  ProviderError,
  type CancelSignal,
  type ChatRequest,
  type ModelTarget,
  type ProviderClient,
  type ProviderEvent,
  type ProviderType,
} from '@understudy/engine';
import type { Dispatcher } from 'undici';
import { anthropicProtocol } from './anthropic/index.js';
import { googleProtocol } from './google/index.js';
import { defaultDispatcher } from './http/index.js';
import { openaiProtocol } from './openai/index.js';
import type { WireProtocol } from './protocol.js';
import { DEFAULT_MAX_BODY_BYTES, runProtocol, type RunOptions } from './run.js';
import { DEFAULT_MAX_LINE_BYTES } from './sse/index.js';

/** Options of `createProviderClient`. */
export interface ProviderClientOptions {
  /** HTTP dispatcher; defaults to the shared keep-alive agent. */
  dispatcher?: Dispatcher;
  /** Bound on one SSE line or event (default 1 MiB). */
  maxLineBytes?: number;
  /** Bound on a whole non-streaming JSON body (default 16 MiB). */
  maxBodyBytes?: number;
}

const PROTOCOLS: Record<ProviderType, WireProtocol> = {
  openai: openaiProtocol,
  'openai-compatible': openaiProtocol,
  'azure-openai': openaiProtocol,
  anthropic: anthropicProtocol,
  google: googleProtocol,
};

/** The wire protocol for a provider type; undefined for a type this build does not know. */
export function protocolFor(type: string): WireProtocol | undefined {
  return Object.hasOwn(PROTOCOLS, type) ? PROTOCOLS[type as ProviderType] : undefined;
}

/** Fills in the defaults of the driver's options. */
export function runOptions(opts: ProviderClientOptions = {}): RunOptions {
  return {
    dispatcher: opts.dispatcher ?? defaultDispatcher(),
    maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
}

// eslint-disable-next-line require-yield -- a stream that fails on first read, like any other failure
async function* unknownType(type: string): AsyncGenerator<ProviderEvent, void, undefined> {
  throw new ProviderError({ reason: 'provider_misconfigured', message: `unknown provider type "${type}"` });
}

/** Creates the engine's `ProviderClient`, dispatching on `provider.type`. */
export function createProviderClient(opts: ProviderClientOptions = {}): ProviderClient {
  const run = runOptions(opts);
  return {
    stream(target: ModelTarget, request: ChatRequest, signal: CancelSignal): AsyncIterable<ProviderEvent> {
      const protocol = protocolFor(target.provider.type);
      if (!protocol) return unknownType(target.provider.type);
      return runProtocol(protocol, target, request, signal, run);
    },
  };
}
