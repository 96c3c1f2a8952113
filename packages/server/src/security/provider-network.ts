/**
 * The server's connections to providers (SPEC §6). Every connection checks the address it is about
 * to reach, not only the URL as it was saved: a name that resolved to a public address then may
 * resolve to 127.0.0.1 or 10.x now (DNS rebinding). Whether a private address may be reached
 * depends on the provider (the simulator's and an operator's Ollama rows carry `allow_private`), so
 * there are two keep-alive agents, one per rule, and each request goes through its provider's: a
 * provider without the allowance never reuses a socket another provider opened to a private host
 * of the same origin. Choosing the agent is one property read per request; names are looked up
 * only as before, when a new connection opens.
 *
 * A pooled socket keeps the address it was checked at: after a name changes, requests may reuse a
 * connection opened before for up to the agent's keep-alive limit (10 s idle, 60 s at most). That
 * socket still reaches the address that passed the check, so nothing new is reached through it.
 *
 * An IP-literal host is never looked up, so the same rule is applied to it in front of the agent
 * (`refuseLiterals`): its verdict cannot change while the server runs, so it is worked out once
 * per origin and each request costs one map read.
 */
import type { ModelTarget, ProviderClient, ProviderConfig } from '@understudy/engine';
import { createProviderAgent, createProviderClient } from '@understudy/providers';
import type { Dispatcher } from 'undici';
import { guardedLookup, literalRefusal, type Lookup } from './ssrf.js';

/** A keep-alive agent for provider traffic, behind the IP-literal check. */
export type ProviderAgent = Dispatcher.ComposedDispatcher;

/** Origins remembered per rule; past that the memo starts again (a provider's origins are few). */
const MAX_ORIGINS = 1000;

/**
 * Refuses requests to an IP-literal origin the rule forbids, with the error a refused name gets
 * from `guardedLookup`. Thrown synchronously: every dispatch caller (the providers' `send`,
 * undici's `request`) turns that into the request's failure, as it does a connect error.
 */
function refuseLiterals(allowPrivate: boolean): Dispatcher.DispatcherComposeInterceptor {
  // The refusal's message per origin ('' when it may go): a literal's verdict never changes.
  const verdicts = new Map<string, string>();
  return (dispatch) => (opts, handler) => {
    const origin = String(opts.origin ?? '');
    let message = verdicts.get(origin);
    if (message === undefined) {
      let host = '';
      try {
        host = new URL(origin).hostname;
      } catch {
        // Not a URL: the agent refuses it with its own error.
      }
      message = literalRefusal(host, allowPrivate) ?? '';
      if (verdicts.size >= MAX_ORIGINS) verdicts.clear();
      verdicts.set(origin, message);
    }
    if (message) throw Object.assign(new Error(message), { code: 'EADDRNOTAVAIL' });
    return dispatch(opts, handler);
  };
}

/** The provider connections of one server. */
export interface ProviderNetwork {
  /** The engine's client: each request goes through its provider's agent. */
  client: ProviderClient;
  /** The agent for one provider's requests (e.g. Test connection). */
  dispatcherFor(provider: ProviderConfig): ProviderAgent;
  /** Closes every connection. */
  destroy(): Promise<void>;
}

/**
 * Creates the provider connections. `allowPrivate`: the deployment allows private addresses for
 * every provider (`UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS`); `resolve` replaces `dns.lookup` (tests).
 */
export function createProviderNetwork(opts: { allowPrivate: boolean; resolve?: Lookup }): ProviderNetwork {
  const agent = (allowPrivate: boolean): ProviderAgent =>
    createProviderAgent({
      lookup: guardedLookup({ allowPrivate, ...(opts.resolve && { resolve: opts.resolve }) }),
    }).compose(refuseLiterals(allowPrivate));
  const strict = agent(opts.allowPrivate);
  // With the deployment-wide allowance both rules are the same: one pool.
  const open = opts.allowPrivate ? strict : agent(true);
  const clients = {
    strict: createProviderClient({ dispatcher: strict }),
    open: createProviderClient({ dispatcher: open }),
  };
  return {
    client: {
      stream: (target: ModelTarget, request, signal) =>
        (target.provider.allowPrivate ? clients.open : clients.strict).stream(target, request, signal),
    },
    dispatcherFor: (provider) => (provider.allowPrivate ? open : strict),
    async destroy() {
      await Promise.all([strict.destroy(), open === strict ? undefined : open.destroy()]);
    },
  };
}
