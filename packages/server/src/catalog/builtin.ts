/**
 * The built-in catalog: facts about well-known models (tier, context window, capabilities), so an
 * admin adding `gpt-4o` or a bootstrap file naming `claude-sonnet-4-5` need not type them. Facts
 * declared explicitly always win. Tiers: 5 frontier, 4 strong, 3 mid, 2 small, 1 tiny.
 */
import type { Capability, ProviderType } from '@understudy/engine';

/** Known facts about one upstream model. */
export interface BuiltinModel {
  upstream: string;
  providerType: ProviderType;
  label: string;
  tier: number;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: Capability[];
}

const V = 'vision' as const;
const T = 'tools' as const;
const J = 'json' as const;
const P = 'prefill' as const;
const R = 'reasoning' as const;

/** Every built-in model, best first within each provider type. */
export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  {
    upstream: 'gpt-4.1',
    providerType: 'openai',
    label: 'GPT-4.1',
    tier: 4,
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    capabilities: [V, T, J],
  },
  {
    upstream: 'gpt-4.1-mini',
    providerType: 'openai',
    label: 'GPT-4.1 mini',
    tier: 3,
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    capabilities: [V, T, J],
  },
  {
    upstream: 'gpt-4.1-nano',
    providerType: 'openai',
    label: 'GPT-4.1 nano',
    tier: 2,
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    capabilities: [V, T, J],
  },
  {
    upstream: 'gpt-4o',
    providerType: 'openai',
    label: 'GPT-4o',
    tier: 4,
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    capabilities: [V, T, J],
  },
  {
    upstream: 'gpt-4o-mini',
    providerType: 'openai',
    label: 'GPT-4o mini',
    tier: 2,
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    capabilities: [V, T, J],
  },
  {
    upstream: 'o3',
    providerType: 'openai',
    label: 'o3',
    tier: 5,
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    capabilities: [V, T, J, R],
  },
  {
    upstream: 'o4-mini',
    providerType: 'openai',
    label: 'o4-mini',
    tier: 4,
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    capabilities: [V, T, J, R],
  },
  {
    upstream: 'claude-opus-4-1',
    providerType: 'anthropic',
    label: 'Claude Opus 4.1',
    tier: 5,
    contextWindow: 200_000,
    maxOutputTokens: 32_000,
    capabilities: [V, T, P],
  },
  {
    upstream: 'claude-sonnet-4-5',
    providerType: 'anthropic',
    label: 'Claude Sonnet 4.5',
    tier: 5,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    capabilities: [V, T, P],
  },
  {
    upstream: 'claude-sonnet-4-0',
    providerType: 'anthropic',
    label: 'Claude Sonnet 4',
    tier: 4,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    capabilities: [V, T, P],
  },
  {
    upstream: 'claude-3-7-sonnet-latest',
    providerType: 'anthropic',
    label: 'Claude 3.7 Sonnet',
    tier: 4,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    capabilities: [V, T, P],
  },
  {
    upstream: 'claude-3-5-haiku-latest',
    providerType: 'anthropic',
    label: 'Claude 3.5 Haiku',
    tier: 2,
    contextWindow: 200_000,
    maxOutputTokens: 8_192,
    capabilities: [V, T, P],
  },
  {
    upstream: 'claude-haiku-4-5',
    providerType: 'anthropic',
    label: 'Claude Haiku 4.5',
    tier: 3,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    capabilities: [V, T, P],
  },
  {
    upstream: 'gemini-2.5-pro',
    providerType: 'google',
    label: 'Gemini 2.5 Pro',
    tier: 5,
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    capabilities: [V, T, J, R],
  },
  {
    upstream: 'gemini-2.5-flash',
    providerType: 'google',
    label: 'Gemini 2.5 Flash',
    tier: 3,
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    capabilities: [V, T, J],
  },
  {
    upstream: 'gemini-2.5-flash-lite',
    providerType: 'google',
    label: 'Gemini 2.5 Flash-Lite',
    tier: 2,
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    capabilities: [V, T, J],
  },
  {
    upstream: 'gemini-2.0-flash',
    providerType: 'google',
    label: 'Gemini 2.0 Flash',
    tier: 2,
    contextWindow: 1_048_576,
    maxOutputTokens: 8_192,
    capabilities: [V, T, J],
  },
  {
    upstream: 'llama3.1',
    providerType: 'openai-compatible',
    label: 'Llama 3.1 8B',
    tier: 1,
    contextWindow: 131_072,
    maxOutputTokens: 4_096,
    capabilities: [T],
  },
  {
    upstream: 'llama3.3',
    providerType: 'openai-compatible',
    label: 'Llama 3.3 70B',
    tier: 3,
    contextWindow: 131_072,
    maxOutputTokens: 4_096,
    capabilities: [T],
  },
  {
    upstream: 'qwen2.5',
    providerType: 'openai-compatible',
    label: 'Qwen 2.5 7B',
    tier: 1,
    contextWindow: 32_768,
    maxOutputTokens: 4_096,
    capabilities: [T],
  },
  {
    upstream: 'mistral-large-latest',
    providerType: 'openai-compatible',
    label: 'Mistral Large',
    tier: 4,
    contextWindow: 131_072,
    maxOutputTokens: 8_192,
    capabilities: [T, J],
  },
  {
    upstream: 'mistral-small-latest',
    providerType: 'openai-compatible',
    label: 'Mistral Small',
    tier: 2,
    contextWindow: 131_072,
    maxOutputTokens: 8_192,
    capabilities: [T, J],
  },
];

/** The built-in facts for an upstream model name (exact, then ignoring a date suffix), if known. */
export function builtinFacts(upstream: string): BuiltinModel | undefined {
  const name = upstream.toLowerCase();
  return (
    BUILTIN_MODELS.find((m) => m.upstream === name) ??
    BUILTIN_MODELS.find((m) => name.replace(/-\d{4}-?\d{2}-?\d{2}$|-\d{8}$/, '') === m.upstream)
  );
}

/** Default upstream base URL per provider type (openai-compatible has none: the admin gives it). */
export const DEFAULT_BASE_URLS: Partial<Record<ProviderType, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  google: 'https://generativelanguage.googleapis.com',
};
