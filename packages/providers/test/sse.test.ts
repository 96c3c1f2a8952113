/** The bounded SSE decoder: any chunking, any line ending, comments, multi-line data; bounded memory. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProviderError } from '@understudy/engine';
import fc from 'fast-check';
import { SseDecoder, decodeSse, type SseEvent } from '../src/sse/index.js';
import { fromChunks, splitAt } from './helpers.js';

const utf8 = new TextEncoder();

/** Decodes all chunks into events (or the thrown error). */
async function decode(chunks: Uint8Array[], max?: number): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of decodeSse(fromChunks(chunks), max)) out.push(e);
  return out;
}

const text = fc.string({
  unit: fc.constantFrom('a', 'b', ' ', 'é', '世', '界', '🎉', '{', '"', ':'),
  maxLength: 30,
});
const eventArb = fc.record(
  {
    event: fc.constantFrom('message_start', 'content_block_delta', 'error', 'ping'),
    lines: fc.array(text, { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ['lines'] },
);
const styleArb = fc.record({
  eol: fc.constantFrom('\n', '\r', '\r\n'),
  comments: fc.array(fc.nat(5), { maxLength: 4 }),
  noSpace: fc.boolean(),
  cuts: fc.array(fc.nat(100_000), { maxLength: 30 }),
});

interface Style {
  eol: string;
  comments: number[];
  noSpace: boolean;
}

/** Serialises events the way any conforming server might. */
function serialise(events: { event?: string; lines: string[] }[], style: Style): Uint8Array {
  const { eol, comments, noSpace } = style;
  let out = '';
  events.forEach((e, i) => {
    if (comments.includes(i)) out += `: keep-alive 世界${eol}`;
    if (e.event) out += `event: ${e.event}${eol}`;
    // `data:` without the optional space only when the value cannot start with one.
    for (const l of e.lines) out += noSpace && !l.startsWith(' ') ? `data:${l}${eol}` : `data: ${l}${eol}`;
    out += eol;
  });
  return utf8.encode(out);
}

test('any chunking, line ending, comments and multi-line data decode to the same events', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(eventArb, { maxLength: 8 }), styleArb, async (events, style) => {
      const bytes = serialise(events, style);
      const want = events.map((e) => ({ ...(e.event && { event: e.event }), data: e.lines.join('\n') }));
      assert.deepEqual(await decode(splitAt(bytes, style.cuts)), want);
    }),
    { numRuns: 300 },
  );
});

test('byte-by-byte feeding splits every multi-byte UTF-8 character and still decodes right', async () => {
  const bytes = utf8.encode('data: héllo 世界 🎉\r\n\r\nevent: x\rdata: a\rdata: b\r\r');
  const chunks = [...bytes].map((b) => Uint8Array.of(b));
  assert.deepEqual(await decode(chunks), [{ data: 'héllo 世界 🎉' }, { event: 'x', data: 'a\nb' }]);
});

test('a byte order mark opening the stream is ignored, even split across reads; later ones are data', async () => {
  const bytes = utf8.encode('\uFEFFdata: one\n\ndata: \uFEFFtwo\n\n');
  const want = [{ data: 'one' }, { data: '\uFEFFtwo' }];
  assert.deepEqual(await decode([bytes]), want);
  assert.deepEqual(await decode([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)]), want);
});

test('a final event without its blank line is still dispatched at the end', async () => {
  assert.deepEqual(await decode([utf8.encode('data: one\n\ndata: two')]), [{ data: 'one' }, { data: 'two' }]);
  assert.deepEqual(await decode([utf8.encode('data: one\r')]), [{ data: 'one' }]);
});

test('an oversized line is a bounded error: it fails as soon as the bound is crossed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 64, max: 2048 }), (chunkSize, max) => {
      const d = new SseDecoder(max);
      const chunk = new Uint8Array(chunkSize).fill(0x78);
      d.push(utf8.encode('data: ok\n\n'));
      let fed = 0;
      let error: unknown;
      while (fed < 10 * (max + chunkSize)) {
        try {
          d.push(chunk);
        } catch (err) {
          error = err;
          break;
        }
        fed += chunkSize;
        // Never holds more than the bound while it accepts input.
        assert.ok(d.pendingLineBytes <= max);
      }
      assert.ok(error instanceof ProviderError, 'throws');
      assert.equal(error.reason, 'interrupted');
      assert.equal(error.code, 'sse_line_too_long');
      assert.match(error.message, new RegExp(`exceeds ${max} bytes`));
      // It failed within one chunk of crossing the bound, never buffering beyond it.
      assert.ok(fed <= max, `accepted ${fed} bytes past a ${max}-byte bound`);
      assert.equal(d.pendingLineBytes, 0);
      assert.throws(() => d.push(utf8.encode('\n')), ProviderError, 'stays failed');
    }),
    { numRuns: 200 },
  );
});

test('an event growing through many short data lines is bounded too', () => {
  const d = new SseDecoder(4096);
  assert.throws(() => {
    for (let i = 0; i < 10_000; i++) d.push(utf8.encode('data: 0123456789abcdef\n'));
  }, /event exceeds 4096 bytes/);
});

test('a single huge network chunk is checked slice by slice, not after buffering it all', () => {
  const d = new SseDecoder(1024);
  const huge = new Uint8Array(8 * 1024 * 1024).fill(0x61);
  assert.throws(() => d.push(huge), /line exceeds 1024 bytes/);
});

test('events completed before an overflow are delivered first, then the error', () => {
  const d = new SseDecoder(100);
  const bytes = utf8.encode(`data: first\n\ndata: ${'x'.repeat(500)}`);
  assert.deepEqual(d.push(bytes), [{ data: 'first' }]);
  assert.throws(() => d.end(), ProviderError);
});

test('lines at exactly the bound are accepted', async () => {
  const line = `data: ${'y'.repeat(94)}`; // 100 bytes
  assert.deepEqual(await decode([utf8.encode(`${line}\n\n`)], 100), [{ data: 'y'.repeat(94) }]);
});

test('the line bound matches a byte-by-byte count for any bytes, line ends and chunking', () => {
  // The decoder jumps between line ends with indexOf; this reference counts every byte.
  const byte = fc.constantFrom(0x78, 0x78, 0x78, 0x78, 0x0a, 0x0d);
  fc.assert(
    fc.property(
      fc.array(fc.array(byte, { maxLength: 300 }), { maxLength: 12 }),
      fc.integer({ min: 1, max: 120 }),
      (chunks, max) => {
        const d = new SseDecoder(max);
        let run = 0;
        for (const c of chunks) {
          let over = false;
          for (const b of c) {
            if (b === 0x0a || b === 0x0d) run = 0;
            else if (++run > max) {
              over = true;
              break;
            }
          }
          let threw: unknown;
          try {
            d.push(Uint8Array.from(c));
          } catch (err) {
            threw = err;
          }
          const failure = threw ?? d.failure;
          // The other bound (an event's buffered text, also `max`) is not this reference's to model.
          if (failure instanceof ProviderError && /event exceeds/.test(failure.message)) return;
          if (over) {
            assert.match(String((failure as Error | undefined)?.message), /line exceeds/);
            return;
          }
          assert.equal(failure, undefined);
          assert.equal(d.pendingLineBytes, run);
        }
      },
    ),
    { numRuns: 500 },
  );
});
