/**
 * Property tests over every recorded stream: any split of the bytes (mid-line, mid-UTF-8
 * character), any line-ending style, extra comments and multi-line `data:` give exactly the
 * fixture's events — through the parser directly, and end to end through a socket for a few seeds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProviderEvent } from '@understudy/engine';
import fc from 'fast-check';
import { Agent } from 'undici';
import { createProviderClient } from '../src/index.js';
import {
  TYPE_OF,
  baseUrlFor,
  chunk,
  collect,
  cutsArb,
  expected,
  fixtureBytes,
  model,
  outcome,
  parse,
  provider,
  splitAt,
  startServer,
  streamFixtures,
  writeChunks,
  type Protocol,
  type TestServer,
} from './helpers.js';
import { blocks, reframe, styleArb } from './reframe.js';

const utf8 = new TextEncoder();
const PROTOCOLS: Protocol[] = ['openai', 'anthropic', 'google'];

for (const protocol of PROTOCOLS) {
  describe(`${protocol} streams under any framing`, () => {
    for (const name of streamFixtures(protocol)) {
      test(name, async () => {
        const text = fixtureBytes(protocol, `${name}.sse`).toString('utf8');
        const want = expected(protocol, name);
        // The fixture itself, unchanged, first.
        assert.deepEqual(outcome(await parse(protocol, [utf8.encode(text)])), want);
        await fc.assert(
          fc.asyncProperty(styleArb(blocks(text).length), cutsArb, async (style, cuts) => {
            const bytes = utf8.encode(reframe(text, style));
            assert.deepEqual(outcome(await parse(protocol, chunk(bytes, cuts))), want);
          }),
          { numRuns: 40 },
        );
      });
    }
  });
}

describe('end to end through a socket, a few seeds', () => {
  let server: TestServer;
  let chunks: Uint8Array[] = [];
  const agent = new Agent();
  const client = createProviderClient({ dispatcher: agent });
  before(async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      void writeChunks(res, chunks);
    });
  });
  after(async () => {
    await agent.close();
    await server.close();
  });

  for (const protocol of PROTOCOLS) {
    for (const name of [
      'text',
      streamFixtures(protocol).find((n) => n.startsWith('tool') || n.startsWith('function')),
    ]) {
      if (!name) continue;
      test(`${protocol} ${name}`, async () => {
        const text = fixtureBytes(protocol, `${name}.sse`).toString('utf8');
        const want = expected(protocol, name);
        await fc.assert(
          fc.asyncProperty(
            styleArb(blocks(text).length),
            fc.array(fc.nat(1_000_000), { maxLength: 40 }),
            async (style, cuts) => {
              chunks = splitAt(utf8.encode(reframe(text, style)), cuts);
              const r = await collect(
                client.stream(
                  {
                    provider: provider(TYPE_OF[protocol], baseUrlFor(protocol, server.origin)),
                    model: model(),
                  },
                  { messages: [{ role: 'user', content: 'Hi' }] },
                  new AbortController().signal,
                ),
              );
              const open: ProviderEvent = { type: 'open' };
              assert.deepEqual(outcome(r), { ...want, events: [open, ...want.events] });
            },
          ),
          { numRuns: 4, seed: 20241125 },
        );
      });
    }
  }
});
