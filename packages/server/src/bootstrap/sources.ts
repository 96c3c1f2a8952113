/** Where providers and models come from besides the admin API: the environment and built-in facts. */
import type { ModelConfig, ProviderType } from '@understudy/engine';
import { builtinFacts, DEFAULT_BASE_URLS } from '../catalog/index.js';
import type { ServerConfig } from '../config.js';
import type { ProviderSource } from '../storage/index.js';
import type { BootstrapFile } from './config-file.js';

/** A provider to ensure. */
export interface ProviderSpec {
  slug: string;
  type: ProviderType;
  label: string;
  baseUrl: string;
  apiKey?: string;
  apiVersion?: string;
  headers?: Record<string, string>;
  source: ProviderSource;
  allowPrivate: boolean;
  /** The environment variable that declares it (environment providers). */
  variable?: string;
}

/** Vendors' names for the provider ids an operator most often gives (the environment's among them). */
const VENDOR_NAMES: Readonly<Record<string, string>> = {
  google: 'Google Gemini',
  gemini: 'Google Gemini',
  together: 'Together AI',
  fireworks: 'Fireworks AI',
};

/** How brands spell themselves, for a word of an id (`openai-main` is "OpenAI Main", not "Openai Main"). */
const SPELLINGS: Readonly<Record<string, string>> = {
  openai: 'OpenAI',
  vllm: 'vLLM',
  lmstudio: 'LM Studio',
  openrouter: 'OpenRouter',
  deepseek: 'DeepSeek',
  xai: 'xAI',
};

/**
 * The label of an operator-declared provider that gives none (the environment's, or the bootstrap
 * file's without `label`): one rule for both, so the UI never shows a raw id where it would show
 * "OpenAI". The vendor's name when the id is a vendor, else the id's words title-cased.
 */
export function providerLabel(id: string): string {
  const known = VENDOR_NAMES[id];
  if (known) return known;
  return id
    .split(/[-_.]+/)
    .filter(Boolean)
    .map((w) => SPELLINGS[w] ?? w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** A model from built-in facts, or undefined when the upstream name is unknown and no tier is given. */
export function modelFromFacts(
  id: string,
  providerId: string,
  upstream: string,
  over: Partial<ModelConfig> = {},
): ModelConfig | undefined {
  const known = builtinFacts(upstream);
  const tier = over.tier ?? known?.tier;
  if (tier === undefined) return undefined;
  const m: ModelConfig = {
    id,
    providerId,
    upstreamModel: upstream,
    label: over.label ?? known?.label ?? id,
    tier,
    capabilities: over.capabilities ?? known?.capabilities ?? [],
    tags: over.tags ?? [],
    enabled: over.enabled ?? true,
  };
  const cw = over.contextWindow ?? known?.contextWindow;
  if (cw !== undefined) m.contextWindow = cw;
  const mo = over.maxOutputTokens ?? known?.maxOutputTokens;
  if (mo !== undefined) m.maxOutputTokens = mo;
  if (over.timeouts) m.timeouts = over.timeouts;
  return m;
}

/** Providers and models the environment declares (OPENAI_API_KEY …, OLLAMA_BASE_URL). */
export function envCatalog(config: ServerConfig): { providers: ProviderSpec[]; models: ModelConfig[] } {
  const e = config.envProviders;
  const providers: ProviderSpec[] = [];
  const models: ModelConfig[] = [];
  // Named by the same rule as the bootstrap file's providers without a label.
  const add = (p: Omit<ProviderSpec, 'label'>, ups: string[]) => {
    providers.push({ ...p, label: providerLabel(p.slug) });
    for (const up of ups) {
      const m = modelFromFacts(up, p.slug, up) ?? modelFromFacts(up, p.slug, up, { tier: 2 });
      if (m) models.push(m);
    }
  };
  if (e.openaiApiKey) {
    add(
      {
        slug: 'openai',
        variable: 'OPENAI_API_KEY',
        type: 'openai',
        baseUrl: e.openaiBaseUrl ?? DEFAULT_BASE_URLS.openai!,
        apiKey: e.openaiApiKey,
        source: 'env',
        allowPrivate: false,
      },
      ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4o-mini'],
    );
  }
  if (e.anthropicApiKey) {
    add(
      {
        slug: 'anthropic',
        variable: 'ANTHROPIC_API_KEY',
        type: 'anthropic',
        baseUrl: DEFAULT_BASE_URLS.anthropic!,
        apiKey: e.anthropicApiKey,
        source: 'env',
        allowPrivate: false,
      },
      ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    );
  }
  if (e.geminiApiKey) {
    add(
      {
        slug: 'google',
        variable: 'GEMINI_API_KEY',
        type: 'google',
        baseUrl: DEFAULT_BASE_URLS.google!,
        apiKey: e.geminiApiKey,
        source: 'env',
        allowPrivate: false,
      },
      ['gemini-2.5-pro', 'gemini-2.5-flash'],
    );
  }
  if (e.ollamaBaseUrl) {
    const base = e.ollamaBaseUrl.replace(/\/$/, '');
    // Ollama is usually local: the operator declaring it is the explicit allowance for a private URL.
    add(
      {
        slug: 'ollama',
        variable: 'OLLAMA_BASE_URL',
        type: 'openai-compatible',
        baseUrl: base.endsWith('/v1') ? base : `${base}/v1`,
        source: 'env',
        allowPrivate: true,
      },
      e.ollamaModels ?? ['llama3.1'],
    );
  }
  return { providers, models };
}

/**
 * True when the operator declares a real provider: the bootstrap file when there is one (it is the
 * whole declaration: the environment's providers are not added beside it), else the environment.
 */
export function hasRealProviders(config: ServerConfig, file: BootstrapFile | undefined): boolean {
  return file ? file.providers.length > 0 : envCatalog(config).providers.length > 0;
}
