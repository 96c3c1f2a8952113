/** Test doubles for the engine: a scripted provider client and catalog builders. */
import { ProviderError, type FailureDetails } from '../src/errors.js';
import type { Catalog, ModelConfig, ProviderConfig } from '../src/types/catalog.js';
import type { ChatRequest, ProviderEvent } from '../src/types/chat.js';
import type { CancelSignal } from '../src/cancel.js';
import type { ModelTarget, ProviderClient } from '../src/types/provider.js';

/** One scripted step of a fake upstream call. */
export type Step =
  ProviderEvent | { type: 'fail'; failure: FailureDetails } | { type: 'wait'; ms: number } | { type: 'hang' };

/** A call the fake saw. */
export interface FakeCall {
  modelId: string;
  request: ChatRequest;
  at: number;
  aborted: boolean;
}

/** A ProviderClient whose answers are scripts, per model id and per call number. */
export class FakeClient implements ProviderClient {
  readonly calls: FakeCall[] = [];
  /** A script may be endless (a generator): a provider that never stops sending. */
  constructor(
    private readonly scripts: Record<
      string,
      Iterable<Step> | ((n: number, req: ChatRequest) => Iterable<Step>)
    >,
  ) {}

  /** The calls made to one model, in order. */
  callsTo(modelId: string): FakeCall[] {
    return this.calls.filter((c) => c.modelId === modelId);
  }

  /** ProviderClient.stream: plays the model's script for this call number, honouring `signal`. */
  async *stream(
    target: ModelTarget,
    request: ChatRequest,
    signal: CancelSignal,
  ): AsyncIterable<ProviderEvent> {
    const call: FakeCall = { modelId: target.model.id, request, at: Date.now(), aborted: false };
    this.calls.push(call);
    signal.addEventListener('abort', () => (call.aborted = true), { once: true });
    const s = this.scripts[target.model.id];
    const n = this.callsTo(target.model.id).length;
    const steps = typeof s === 'function' ? s(n, request) : (s ?? healthy('ok'));
    for (const step of steps) {
      if (signal.aborted) throw signal.reason;
      if (step.type === 'fail') throw new ProviderError(step.failure);
      if (step.type === 'wait' || step.type === 'hang') {
        await new Promise<void>((resolve, reject) => {
          const t = step.type === 'wait' ? setTimeout(resolve, step.ms) : undefined;
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              reject(signal.reason);
            },
            { once: true },
          );
        });
        continue;
      }
      yield step;
    }
  }
}

/** A healthy answer: open, the words as text events, usage, finish. */
export function healthy(text: string, usage = true): Step[] {
  const words = text.split(/(?<= )/);
  return [
    { type: 'open' },
    ...words.map((w): Step => ({ type: 'text', text: w })),
    ...(usage ? [{ type: 'usage', inputTokens: 10, outputTokens: words.length } as Step] : []),
    { type: 'finish', reason: 'stop' },
  ];
}

/** An HTTP-level failure before any content. */
export function fails(reason: FailureDetails['reason'], extra: Partial<FailureDetails> = {}): Step[] {
  return [{ type: 'fail', failure: { reason, message: `${reason} happened`, ...extra } }];
}

/** A provider entry. */
export function provider(id: string): ProviderConfig {
  return {
    id,
    type: 'openai',
    label: `Provider ${id.toUpperCase()}`,
    baseUrl: `http://${id}.invalid`,
    apiKey: `sk-secret-${id}-key`,
  };
}

/** A model entry with defaults. */
export function model(
  id: string,
  providerId: string,
  tier: number,
  extra: Partial<ModelConfig> = {},
): ModelConfig {
  return {
    id,
    providerId,
    upstreamModel: id,
    label: `Model ${id}`,
    tier,
    capabilities: ['tools', 'vision'],
    tags: [],
    enabled: true,
    timeouts: { connectMs: 300, firstTokenMs: 300, stallMs: 300 },
    ...extra,
  };
}

/** A catalog: providers a, b, c; models a1 (tier 3), a2 (tier 2) on a, b1 (tier 3), b2 (tier 2) on b, c1 (tier 4) on c. */
export function catalog(extra: Partial<Catalog> = {}): Catalog {
  return {
    providers: [provider('a'), provider('b'), provider('c')],
    models: [
      model('a1', 'a', 3),
      model('a2', 'a', 2),
      model('b1', 'b', 3),
      model('b2', 'b', 2),
      model('c1', 'c', 4),
    ],
    defaultModelId: 'a1',
    fallback: { mode: 'automatic' },
    ...extra,
  };
}

/** A one-message request. */
export function ask(text = 'Hello'): ChatRequest {
  return { messages: [{ role: 'user', content: text }] };
}
