/** The one interface through which the engine talks to model providers. */
import type { CancelSignal } from '../cancel.js';
import type { ModelConfig, ProviderConfig } from './catalog.js';
import type { ChatRequest, ProviderEvent } from './chat.js';

/** A model together with the provider that serves it. */
export interface ModelTarget {
  provider: ProviderConfig;
  model: ModelConfig;
}

/**
 * Opens upstream calls. Implementations (the adapters) always stream upstream, yield `open` once
 * the response headers say success, then content events; they throw a `ProviderError` for any
 * failure and close the upstream socket promptly when `signal` aborts. A request whose last
 * message is from the assistant asks the model to continue that text (prefill).
 */
export interface ProviderClient {
  stream(target: ModelTarget, request: ChatRequest, signal: CancelSignal): AsyncIterable<ProviderEvent>;
}
