/** The admin "Test connection" button: one tiny real request, classified like any other failure. */
import {
  ProviderError,
  type FailureDetails,
  type ModelConfig,
  type ProviderConfig,
} from '@understudy/engine';
import { createProviderClient, protocolFor, runOptions, type ProviderClientOptions } from './client.js';
import { errorFromResponse, release, send, toProviderError } from './http/index.js';
import { secretsOf } from './protocol.js';

/** Result of a connection test. */
export type ConnectionTestResult = { ok: true; latencyMs: number } | { ok: false; error: FailureDetails };

/** Options beyond the button's needs: a dispatcher for tests, and the overall time limit. */
export interface ConnectionTestOptions extends ProviderClientOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
}

/**
 * Reasoning models spend their first tokens thinking and some reject a 1-token budget outright,
 * so they get a little room; everything else is asked for exactly one token.
 */
const REASONING_TEST_TOKENS = 16;

/**
 * Tests a provider. With a model: a streamed chat request for one token, read to its end. Without:
 * the provider's model list, which proves URL and key. Never throws; the key never appears.
 */
export async function testConnection(
  provider: ProviderConfig,
  model?: ModelConfig,
  signal?: AbortSignal,
  opts: ConnectionTestOptions = {},
): Promise<ConnectionTestResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const started = performance.now();
  try {
    if (model) await chatOnce(provider, model, combined, opts);
    else await probe(provider, combined, opts);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    if (timeout.aborted && !signal?.aborted) {
      return { ok: false, error: { reason: 'timeout', message: `no answer within ${timeoutMs} ms` } };
    }
    const e = err instanceof ProviderError ? err : toProviderError(err, combined, false, secretsOf(provider));
    return { ok: false, error: e.toDetails() };
  }
}

async function chatOnce(
  provider: ProviderConfig,
  model: ModelConfig,
  signal: AbortSignal,
  opts: ProviderClientOptions,
): Promise<void> {
  const maxTokens = model.capabilities.includes('reasoning') ? REASONING_TEST_TOKENS : 1;
  const events = createProviderClient(opts).stream(
    { provider, model },
    { messages: [{ role: 'user', content: 'Hi' }], maxTokens },
    signal,
  );
  for await (const _event of events) {
    // Reading to the end proves the whole path, including the stream's framing.
  }
}

async function probe(
  provider: ProviderConfig,
  signal: AbortSignal,
  opts: ProviderClientOptions,
): Promise<void> {
  const protocol = protocolFor(provider.type);
  if (!protocol) {
    throw new ProviderError({
      reason: 'provider_misconfigured',
      message: `unknown provider type "${provider.type}"`,
    });
  }
  const secrets = secretsOf(provider);
  const res = await send(protocol.probe(provider), signal, runOptions(opts).dispatcher, secrets);
  if (res.statusCode < 200 || res.statusCode >= 300) throw await errorFromResponse(res, signal, secrets);
  release(res.body, true);
}
