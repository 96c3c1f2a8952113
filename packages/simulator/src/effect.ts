/** Resolves a matched rule against the request into the fault actually applied (if any). */
import type { AnswerPlan } from './plan.js';
import type { FaultName, FaultRule } from './types.js';

/** A fault that can actually be applied (a flap resolves to its `down` fault). */
export type AppliedFault = Exclude<FaultName, 'flap'>;

/** What to do with one attempt. */
export interface Effect {
  fault?: AppliedFault;
  after: number;
  retryAfter?: number;
  delayMs?: number;
  withFinish: boolean;
  contextWindow?: number;
}

/** Faults that answer with an HTTP error status before any content. */
export const STATUS_FAULTS = new Set<AppliedFault>([
  'rate_limit',
  'server_error',
  'bad_gateway',
  'unavailable',
  'gateway_timeout',
  'overloaded',
  'unauthorized',
  'payment_required',
  'forbidden',
  'not_found',
  'context_length',
  'content_filter',
  'reject_prefill',
  'bad_request',
]);

/** Applies the conditions of `rule` (flap state, prefill, context window) to this request. */
export function resolveEffect(rule: FaultRule | undefined, plan: AnswerPlan, flapDown: boolean): Effect {
  const effect: Effect = { after: rule?.after ?? 0, withFinish: rule?.withFinish ?? true };
  if (rule === undefined) return effect;
  if (rule.retryAfter !== undefined) effect.retryAfter = rule.retryAfter;
  if (rule.delayMs !== undefined) effect.delayMs = rule.delayMs;
  if (rule.contextWindow !== undefined) effect.contextWindow = rule.contextWindow;
  let fault: AppliedFault | undefined;
  if (rule.fault === 'flap') fault = flapDown ? (rule.down ?? 'unavailable') : undefined;
  else fault = rule.fault;
  if (fault === 'reject_prefill' && !plan.prefill) fault = undefined;
  if (
    fault === 'context_length' &&
    rule.contextWindow !== undefined &&
    plan.inputTokens <= rule.contextWindow
  ) {
    fault = undefined;
  }
  if (fault !== undefined) effect.fault = fault;
  return effect;
}
