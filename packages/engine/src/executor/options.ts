/** Engine options and the per-model timeout defaults of SPEC §2.1. */
import type { ModelConfig } from '../types/catalog.js';
import type { AttemptTimeouts } from './attempt.js';

/** Tunables of the executor; defaults follow the SPEC. */
export interface EngineOptions {
  connectMs: number;
  firstTokenMs: number;
  reasoningFirstTokenMs: number;
  stallMs: number;
  /** Prompts above this many estimated tokens get `longPromptMsPer1k` more first-token time per 1k tokens. */
  longPromptTokens: number;
  longPromptMsPer1k: number;
  /** A 429 whose Retry-After is at most this is retried once, after exactly that wait. */
  quickRetryMaxMs: number;
  /** Pause before the quick retry of a 500/502/reset. */
  quickRetryDelayMs: number;
}

/** SPEC defaults: connect 5 s, first token 10 s (120 s for reasoning models), stall 15 s. */
export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  connectMs: 5_000,
  firstTokenMs: 10_000,
  reasoningFirstTokenMs: 120_000,
  stallMs: 15_000,
  longPromptTokens: 20_000,
  longPromptMsPer1k: 250,
  quickRetryMaxMs: 3_000,
  quickRetryDelayMs: 100,
};

/** The timeouts for one model and prompt size: the model's own, else the defaults. */
export function timeoutsFor(model: ModelConfig, inputTokens: number, o: EngineOptions): AttemptTimeouts {
  const reasoning = model.capabilities.includes('reasoning');
  const extra =
    inputTokens > o.longPromptTokens
      ? Math.ceil((inputTokens - o.longPromptTokens) / 1000) * o.longPromptMsPer1k
      : 0;
  return {
    connectMs: model.timeouts?.connectMs ?? o.connectMs,
    firstTokenMs:
      model.timeouts?.firstTokenMs ?? (reasoning ? o.reasoningFirstTokenMs : o.firstTokenMs + extra),
    stallMs: model.timeouts?.stallMs ?? o.stallMs,
  };
}
