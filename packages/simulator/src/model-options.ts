/**
 * Faults and pacing chosen through the model name (`alpha+fault=stall_after+after=5`), so a test
 * or demo can configure behaviour without touching the control endpoints.
 */
import { RequestError } from './protocols/shared.js';
import { FAULT_NAMES, type FaultName, type FaultRule } from './types.js';

/** Options carried by a model name after its base name. */
export interface ModelOptions {
  base: string;
  /** A fault rule built from the options, when they name a fault or a context window. */
  rule?: FaultRule;
  tokens?: number;
  chunkDelayMs?: number;
  /**
   * `+reasoning`: the model is one of OpenAI's reasoning models, which refuse sampling parameters
   * (temperature other than 1, top_p, stop), parallel_tool_calls and the old max_tokens with a 400.
   */
  reasoning?: boolean;
  /** `+max_output=N`: the largest reply the model writes; a request asking for more gets a 400. */
  maxOutput?: number;
}

const NUMERIC: Record<string, keyof FaultRule> = {
  after: 'after',
  retry_after: 'retryAfter',
  wait: 'delayMs',
  delay_ms: 'delayMs',
  ctx: 'contextWindow',
  duration: 'durationMs',
};

function isFault(value: string): value is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(value);
}

function number(key: string, value: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n) || n < 0)
    throw new RequestError(`model option ${key}=${value}: not a number`);
  return n;
}

/** Parses `base+key=value+...`; throws with a readable message on an unknown key or bad value. */
export function parseModelName(requested: string): ModelOptions {
  const [base = '', ...parts] = requested.split('+');
  const out: ModelOptions = { base };
  const rule: Partial<FaultRule> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const numericKey = NUMERIC[key];
    if (key === 'fault' || key === 'down') {
      if (!isFault(value) || (key === 'down' && value === 'flap'))
        throw new RequestError(`unknown fault '${value}'`);
      if (key === 'fault') rule.fault = value;
      else rule.down = value as Exclude<FaultName, 'flap'>;
    } else if (key === 'tokens') out.tokens = Math.floor(number(key, value));
    else if (key === 'delay') out.chunkDelayMs = number(key, value);
    else if (key === 'reasoning' && value === '') out.reasoning = true;
    else if (key === 'max_output') out.maxOutput = Math.floor(number(key, value));
    else if (key === 'finish') rule.withFinish = value !== '0' && value !== 'false';
    else if (numericKey !== undefined) Object.assign(rule, { [numericKey]: number(key, value) });
    else throw new RequestError(`unknown model option '${key}'`);
  }
  if (rule.fault !== undefined) out.rule = { ...rule, fault: rule.fault };
  else if (rule.contextWindow !== undefined) out.rule = { ...rule, fault: 'context_length' };
  return out;
}
