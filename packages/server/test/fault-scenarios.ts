/**
 * Generated pairs of faults for the demo simulator's providers, shared by the chat and /v1
 * property tests: the primary (Sim A Large, OpenAI protocol) and the backup (Sim B Large under
 * Automatic, which continues prefilled answers, or Sim A Medium as the Specific backup, which
 * cannot) each answer or fail in any of the simulator's ways that need no waiting.
 */
import assert from 'node:assert/strict';
import type { FaultRule } from '@understudy/simulator';
import fc from 'fast-check';
import type { RunningServer } from '../src/index.js';
import type { Client } from './helpers.js';

/** The question every scenario asks. */
export const QUESTION = 'Tell me about lighthouses.';
/** The demo simulator's answer length (startDemo). */
export const DEMO_ANSWER_WORDS = 60;

export type Fault = Omit<FaultRule, 'provider' | 'id'> | undefined;

/** What one model does: answers (undefined), or fails in one of the simulator's ways that need no waiting. */
export const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  fc.record({
    fault: fc.constantFrom(
      'server_error',
      'bad_gateway',
      'unavailable',
      'gateway_timeout',
      'overloaded',
      'unauthorized',
      'not_found',
      'bad_request',
      'content_filter',
      'context_length',
    ),
  }),
  fc.record(
    { fault: fc.constant('rate_limit'), retryAfter: fc.constantFrom(0, 60) },
    { requiredKeys: ['fault'] },
  ),
  fc.record({
    fault: fc.constantFrom(
      'overloaded_midstream',
      'server_error_midstream',
      'rate_limit_midstream',
      'cut_after',
      'malformed',
    ),
    after: fc.integer({ min: 0, max: 6 }),
  }),
  fc.record({ fault: fc.constant('no_done'), withFinish: fc.boolean() }),
);

/** One scenario: what the primary and the backup do, and which backup the setting names. */
export const faultScenarioArb = fc.record({
  primary: faultArb,
  /** The fault stays for the quick retry too, or hits only the first attempt. */
  primaryOnce: fc.boolean(),
  backup: fc.oneof(faultArb, fc.constant<Fault>({ fault: 'reject_prefill' })),
  /** Automatic picks Sim B Large, which continues a prefilled answer; Sim A Medium (Specific) cannot, so a takeover restarts or instructs. */
  backupModel: fc.constantFrom('sim-b-large', 'sim-a-medium'),
});

export type FaultScenario = typeof faultScenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** Faults that hold a response open until a timeout (5–15 s) ends it; only a Stop or a disconnect ends them sooner. */
const hangArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ fault: fc.constantFrom('no_response' as const, 'no_first_token' as const) }),
  fc.record({ fault: fc.constant('stall_after' as const), after: fc.integer({ min: 0, max: 6 }) }),
);

/** A fault scenario in which, now and then, the primary or the backup hangs instead (for Stop and disconnects). */
export const hangingScenarioArb: fc.Arbitrary<FaultScenario> = fc
  .record({
    faults: faultScenarioArb,
    hang: fc.option(
      fc.record({ on: fc.constantFrom('primary' as const, 'backup' as const), fault: hangArb }),
      {
        nil: undefined,
      },
    ),
  })
  .map(({ faults, hang }) => (hang ? { ...faults, [hang.on]: hang.fault } : faults));

/**
 * Returns a function that sets the demo simulator up for a scenario: no fault left from the last
 * one, health memory that knows nothing, the fallback setting naming the scenario's backup, and the
 * scenario's faults on the primary's and the backup's models.
 */
export async function scenarioStage(
  server: RunningServer,
  owner: Client,
): Promise<(s: FaultScenario) => Promise<void>> {
  const sim = server.demo!.simulator;
  const orgId = (await owner.get<{ organization: { id: string } }>('/api/auth/session')).body.organization.id;
  const simA = server.demo!.simName(orgId, 'sim-a');
  const simB = server.demo!.simName(orgId, 'sim-b');
  const breakers = [
    { scope: 'provider' as const, id: `${orgId}/sim-a` },
    { scope: 'provider' as const, id: `${orgId}/sim-b` },
    ...['sim-a-large', 'sim-a-medium', 'sim-b-large'].map((m) => ({
      scope: 'model' as const,
      id: `${orgId}/${m}`,
    })),
  ];
  let backupModel = 'sim-b-large';
  return async (s) => {
    sim.reset();
    for (const key of breakers) await server.ctx.health.reset(key);
    if (s.backupModel !== backupModel) {
      const fallback =
        s.backupModel === 'sim-b-large' ? { mode: 'automatic' } : { mode: 'specific', model: s.backupModel };
      assert.equal((await owner.put('/api/admin/settings', { fallback })).status, 200);
      backupModel = s.backupModel;
    }
    if (s.primary)
      sim.setFault({
        ...s.primary,
        provider: simA,
        model: 'sim-a-large',
        ...(s.primaryOnce && { times: 1 }),
      });
    if (s.backup)
      sim.setFault({
        ...s.backup,
        provider: s.backupModel === 'sim-b-large' ? simB : simA,
        model: s.backupModel,
      });
  };
}
