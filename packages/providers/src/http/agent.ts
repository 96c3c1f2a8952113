/** The pooled keep-alive HTTP client every adapter shares. */
import type { LookupFunction } from 'node:net';
import { Agent, type Dispatcher } from 'undici';

/** Options of `createProviderAgent`. */
export interface ProviderAgentOptions {
  /**
   * Resolves host names for new connections instead of `dns.lookup`: a server checks here every
   * address it is about to connect to, so a name that re-resolves after it was validated (DNS
   * rebinding) still cannot reach a forbidden address.
   */
  lookup?: LookupFunction;
}

/**
 * Options for a provider agent. The engine enforces connect, first-token and stall timeouts by
 * aborting the request signal, so undici must impose none of its own: a long reasoning model may
 * legitimately send nothing for minutes, and a second, shorter clock would misreport it.
 */
export function agentOptions(opts: ProviderAgentOptions = {}): Agent.Options {
  return {
    ...(opts.lookup && { connect: { lookup: opts.lookup } }),
    headersTimeout: 0,
    bodyTimeout: 0,
    // A safety net only, far above any per-model connect timeout the engine applies.
    connectTimeout: 300_000,
    // Providers close idle sockets after ~5-60 s; a reused dead socket costs a retry, so stay short.
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
  };
}

/** Creates a keep-alive undici Agent configured for provider traffic. */
export function createProviderAgent(opts: ProviderAgentOptions = {}): Agent {
  return new Agent(agentOptions(opts));
}

let shared: Dispatcher | undefined;

/** The process-wide default agent, created on first use so importing this package opens nothing. */
export function defaultDispatcher(): Dispatcher {
  shared ??= createProviderAgent();
  return shared;
}
