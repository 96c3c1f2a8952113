/**
 * The built-in demo: the provider simulator runs in-process on an ephemeral loopback port and
 * serves each organization two clearly labelled providers, "Simulator A (OpenAI protocol)" and
 * "Simulator B (Anthropic protocol)", with models across tiers. An admin switches a simulated
 * provider into an outage from the admin API to watch fallback happen.
 */
import type { Capability, ModelConfig } from '@understudy/engine';
import { startSimulator } from '@understudy/simulator';
import type { DemoControl, DemoFault } from '../context.js';

/** A running demo simulator. */
export interface Demo extends DemoControl {
  close(): Promise<void>;
  /** Clears every outage and the attempt log (tests). */
  reset(): void;
  /** The underlying simulator, for tests that inspect attempts or inject finer faults. */
  simulator: Awaited<ReturnType<typeof startSimulator>>;
}

/** A demo provider: its slug, label, wire type and the path below the simulator's URL. */
export interface DemoProvider {
  slug: 'sim-a' | 'sim-b';
  label: string;
  type: 'openai-compatible' | 'anthropic';
  /** Base URL path below the simulator, for an organization. */
  path(simName: string): string;
}

/** The two demo providers. */
export const DEMO_PROVIDERS: readonly DemoProvider[] = [
  {
    slug: 'sim-a',
    label: 'Simulator A (OpenAI protocol)',
    type: 'openai-compatible',
    path: (n) => `/p/${n}/v1`,
  },
  { slug: 'sim-b', label: 'Simulator B (Anthropic protocol)', type: 'anthropic', path: (n) => `/p/${n}` },
];

const m = (
  id: string,
  providerId: string,
  label: string,
  tier: number,
  contextWindow: number,
  capabilities: Capability[],
): ModelConfig => ({
  id,
  providerId,
  upstreamModel: id,
  label,
  tier,
  contextWindow,
  maxOutputTokens: 4096,
  capabilities,
  tags: ['simulated'],
  enabled: true,
});

/** The demo models, in list order; the first is the default. */
export const DEMO_MODELS: readonly ModelConfig[] = [
  m('sim-a-large', 'sim-a', 'Sim A Large (simulated)', 4, 128_000, ['vision', 'tools', 'json']),
  m('sim-b-large', 'sim-b', 'Sim B Large (simulated)', 4, 200_000, ['vision', 'tools', 'prefill']),
  m('sim-a-medium', 'sim-a', 'Sim A Medium (simulated)', 3, 64_000, ['tools', 'json']),
  m('sim-b-medium', 'sim-b', 'Sim B Medium (simulated)', 3, 100_000, ['tools', 'prefill']),
  m('sim-a-small', 'sim-a', 'Sim A Small (simulated)', 2, 16_000, ['tools']),
  m('sim-b-small', 'sim-b', 'Sim B Small (simulated)', 2, 32_000, ['prefill']),
];

/** Starts the simulator on a loopback ephemeral port. */
export async function startDemo(opts: { chunkDelayMs?: number; answerTokens?: number } = {}): Promise<Demo> {
  // A small pause between chunks so the demo visibly streams (and Stop has something to stop).
  const sim = await startSimulator({
    port: 0,
    host: '127.0.0.1',
    chunkDelayMs: opts.chunkDelayMs ?? 40,
    answerTokens: opts.answerTokens ?? 60,
  });
  const outages = new Map<string, DemoFault>();
  return {
    url: sim.url,
    simulator: sim,
    simName: (orgId, slug) => `${orgId}-${slug}`,
    setOutage(name, fault) {
      // One rule per simulated provider, with a stable id: a new outage replaces the old one.
      const id = `demo-${name}`;
      sim.removeFault(id);
      if (fault) {
        outages.set(name, fault);
        sim.setFault({ id, provider: name, fault, ...(fault === 'cut_after' && { after: 8 }) });
      } else outages.delete(name);
      return Promise.resolve();
    },
    outage: (name) => outages.get(name),
    reset() {
      outages.clear();
      sim.reset();
    },
    close: () => sim.close(),
  };
}
