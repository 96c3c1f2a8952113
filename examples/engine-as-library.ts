/**
 * The engine on its own, as a library: a primary that is overloaded and an automatic backup,
 * against the built-in simulator. Run: npx tsx examples/engine-as-library.ts
 */
import { createEngine, InMemoryHealth, type Catalog } from '@understudy/engine';
import { createProviderClient } from '@understudy/providers';
import { startSimulator } from '@understudy/simulator';

const sim = await startSimulator();
sim.setFault({ provider: 'alpha', fault: 'overloaded' }); // the primary's provider is down

const catalog: Catalog = {
  providers: [
    {
      id: 'alpha',
      type: 'anthropic',
      label: 'Alpha (Anthropic protocol)',
      baseUrl: `${sim.url}/p/alpha`,
      apiKey: 'k1',
    },
    {
      id: 'beta',
      type: 'openai',
      label: 'Beta (OpenAI protocol)',
      baseUrl: `${sim.url}/p/beta/v1`,
      apiKey: 'k2',
    },
  ],
  models: [
    {
      id: 'smart',
      providerId: 'alpha',
      upstreamModel: 'sim-large',
      label: 'Smart',
      tier: 3,
      capabilities: ['prefill'],
      tags: [],
      enabled: true,
    },
    {
      id: 'steady',
      providerId: 'beta',
      upstreamModel: 'sim-large',
      label: 'Steady',
      tier: 3,
      capabilities: [],
      tags: [],
      enabled: true,
    },
  ],
  defaultModelId: 'smart',
  fallback: { mode: 'automatic' },
};

const engine = createEngine({ client: createProviderClient(), health: new InMemoryHealth() });
const request = { messages: [{ role: 'user' as const, content: 'Hello there' }] };
for await (const event of engine.answer({ catalog, request, takeover: 'restart' })) {
  if (event.type === 'text') process.stdout.write(event.text);
  if (event.type === 'fallback') console.log(`[fallback: ${event.record.explanation}]`);
  if (event.type === 'done')
    console.log(`\nanswered by ${event.result.modelId}, reason ${event.result.fallback?.reason}`);
  if (event.type === 'error') console.log(`\nerror: ${event.error.message}`);
}
await sim.close();
