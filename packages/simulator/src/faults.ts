/** Fault rules: validation, the active set, and matching (most recent matching rule wins). */
import { z } from 'zod';
import { FAULT_NAMES, type FaultName, type FaultRule } from './types.js';

const DOWN_FAULTS = FAULT_NAMES.filter((f): f is Exclude<FaultName, 'flap'> => f !== 'flap');

/** Default time a `flap` rule stays down when it has no `durationMs`. */
export const DEFAULT_FLAP_MS = 5000;

/** Schema for a rule posted to `/_sim/faults` or passed to `setFault`. */
export const faultRuleSchema = z.strictObject({
  id: z.string().min(1).max(100).optional(),
  provider: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  fault: z.enum(FAULT_NAMES),
  after: z.number().int().min(0).optional(),
  retryAfter: z.number().min(0).optional(),
  delayMs: z.number().int().min(0).max(600_000).optional(),
  times: z.number().int().min(1).optional(),
  durationMs: z.number().int().min(1).optional(),
  withFinish: z.boolean().optional(),
  contextWindow: z.number().int().min(1).optional(),
  down: z.enum(DOWN_FAULTS).optional(),
});

/** Thrown by `setFault` for an invalid rule; `message` lists the problems. */
export class FaultRuleError extends Error {
  override name = 'FaultRuleError';
}

/** Checks an untrusted rule; throws FaultRuleError with a readable message. */
export function parseFaultRule(input: unknown): FaultRule {
  const result = faultRuleSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || 'rule'}: ${i.message}`);
    throw new FaultRuleError(`invalid fault rule: ${problems.join('; ')}`);
  }
  return result.data;
}

interface Stored {
  rule: FaultRule & { id: string };
  expiresAt?: number;
}

/** The active fault rules of one simulator. */
export class FaultStore {
  private rules: Stored[] = [];
  private nextId = 1;

  /** Validates and adds a rule (replacing one with the same id); returns its id. */
  add(input: unknown, now: number): string {
    const rule = parseFaultRule(input);
    const id = rule.id ?? `f${this.nextId++}`;
    const durationMs = rule.durationMs ?? (rule.fault === 'flap' ? DEFAULT_FLAP_MS : undefined);
    this.rules = this.rules.filter((s) => s.rule.id !== id);
    const stored: Stored = { rule: { ...rule, id } };
    if (durationMs !== undefined) stored.expiresAt = now + durationMs;
    this.rules.push(stored);
    return id;
  }

  /** Removes one rule by id. */
  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((s) => s.rule.id !== id);
    return this.rules.length !== before;
  }

  /** Removes every rule. */
  clear(): void {
    this.rules = [];
  }

  /** Active rules, oldest first; `times` shows what is left. */
  list(now: number): FaultRule[] {
    this.expire(now);
    return this.rules.map((s) => ({ ...s.rule }));
  }

  /** The most recent rule matching this attempt, consuming one of its `times`. */
  take(provider: string, model: string, requestedModel: string, now: number): FaultRule | undefined {
    this.expire(now);
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const stored = this.rules[i];
      if (stored === undefined) continue;
      const { rule } = stored;
      if (rule.provider !== undefined && rule.provider !== provider) continue;
      if (rule.model !== undefined && rule.model !== model && rule.model !== requestedModel) continue;
      const taken = { ...rule };
      if (rule.times !== undefined) {
        rule.times -= 1;
        if (rule.times <= 0) this.rules.splice(i, 1);
      }
      return taken;
    }
    return undefined;
  }

  private expire(now: number): void {
    this.rules = this.rules.filter((s) => s.expiresAt === undefined || s.expiresAt > now);
  }
}
