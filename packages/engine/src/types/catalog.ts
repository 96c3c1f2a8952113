/** The organization's providers, models and fallback setting, as the engine needs them. */

/** Wire protocol family of a provider. */
export type ProviderType = 'openai' | 'azure-openai' | 'anthropic' | 'google' | 'openai-compatible';

/** An account at an AI vendor. `apiKey` is a secret: never logged, never put in an error. */
export interface ProviderConfig {
  id: string;
  type: ProviderType;
  label: string;
  baseUrl: string;
  apiKey?: string;
  /** Azure OpenAI only: the `api-version` query parameter. */
  apiVersion?: string;
  /** Extra headers sent with every request (e.g. an OpenAI organization id). */
  headers?: Record<string, string>;
  /**
   * May connect to loopback and private-network addresses (SPEC §6): the built-in simulator, an
   * operator-declared Ollama. The server picks a connection's address rules by it.
   */
  allowPrivate?: boolean;
}

/**
 * Model capabilities. `prefill`: the model continues a prefilled assistant answer (used for
 * mid-stream takeover); `reasoning`: slow first token, longer default first-token timeout.
 */
export type Capability = 'vision' | 'tools' | 'json' | 'prefill' | 'reasoning';

/** Per-model timeouts in milliseconds; unset fields take the SPEC defaults. */
export interface ModelTimeouts {
  connectMs?: number;
  firstTokenMs?: number;
  stallMs?: number;
}

/** An entry of the organization's available list. */
export interface ModelConfig {
  id: string;
  providerId: string;
  /** The model name sent upstream. */
  upstreamModel: string;
  label: string;
  /** Quality rank: higher is better. */
  tier: number;
  /** Context window in tokens; undefined when unknown. */
  contextWindow?: number;
  /** Largest reply the model produces, in tokens; used to check the window fits prompt + reply. */
  maxOutputTokens?: number;
  capabilities: Capability[];
  tags: string[];
  timeouts?: ModelTimeouts;
  enabled: boolean;
}

/** The organization's Fallback Model setting (SPEC §2.2). */
export type FallbackSetting =
  { mode: 'automatic' } | { mode: 'specific'; modelId: string } | { mode: 'none' };

/** Everything the engine needs to know about an organization to answer. `models` is in the org's order. */
export interface Catalog {
  providers: ProviderConfig[];
  models: ModelConfig[];
  defaultModelId: string;
  fallback: FallbackSetting;
}
