/**
 * JSON answers: asked for JSON in any protocol's way, the simulator answers one JSON value of the
 * schema's shape, the same for every protocol, so a backup continues a primary's partial JSON.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CONTINUE_INSTRUCTION, expectedAnswer, startSimulator, type Simulator } from '../src/index.js';
import { expectedJson } from '../src/json-answer.js';
import { PROTOCOLS, call, collect } from './helpers.js';

const prompt = 'Plan a picnic';
const schema = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    guests: { type: 'integer' },
    outdoor: { type: 'boolean' },
    mood: { enum: ['calm', 'lively'] },
    items: { type: 'array', items: { $ref: '#/$defs/item' }, minItems: 3 },
    note: { anyOf: [{ type: 'null' }, { type: 'string' }] },
  },
  required: ['title', 'guests', 'outdoor', 'mood', 'items', 'note'],
  additionalProperties: false,
  $defs: { item: { type: 'object', properties: { name: { type: 'string' }, qty: { type: 'number' } } } },
};

describe('expectedJson', () => {
  it('without a schema: one object holding the plain answer', () => {
    assert.deepEqual(JSON.parse(expectedJson(prompt, 24, {})), { answer: expectedAnswer(prompt) });
  });

  it("with a schema: a value of the schema's shape, made of the answer's words, the same every time", () => {
    const text = expectedJson(prompt, 24, { schema });
    assert.equal(expectedJson(prompt, 24, { schema }), text);
    const v = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['title', 'guests', 'outdoor', 'mood', 'items', 'note']);
    const words = new Set(expectedAnswer(prompt).toLowerCase().replace(/\.$/, '').split(' '));
    assert.ok(typeof v.title === 'string' && v.title.split(' ').length === 3);
    assert.ok(
      String(v.title)
        .toLowerCase()
        .split(' ')
        .every((w) => words.has(w)),
    );
    assert.ok(Number.isInteger(v.guests));
    assert.equal(v.outdoor, true);
    assert.equal(v.mood, 'calm');
    const items = v.items as { name: unknown; qty: unknown }[];
    assert.equal(items.length, 3, 'minItems');
    assert.ok(
      items.every((i) => typeof i.name === 'string' && typeof i.qty === 'number'),
      '$ref resolved',
    );
    assert.equal(typeof v.note, 'string', 'a nullable field is filled');
  });

  it('a recursive schema ends in null past the depth bound', () => {
    const tree = { type: 'object', properties: { label: { type: 'string' }, child: { $ref: '#' } } };
    let v = JSON.parse(expectedJson(prompt, 24, { schema: tree })) as { child: unknown } | null;
    let depth = 0;
    while (v !== null) {
      v = v.child as { child: unknown } | null;
      depth++;
    }
    assert.ok(depth > 1 && depth < 12, String(depth));
  });
});

let sim: Simulator;
before(async () => {
  sim = await startSimulator();
});
after(() => sim.close());

for (const proto of PROTOCOLS) {
  describe(`${proto}: asked for JSON`, () => {
    it('streams the JSON answer, with the schema and without, asked either way', async () => {
      for (const json of [{ schema }, {}, { schema, words: true }, { words: true }]) {
        const c = collect(proto, await (await call(sim, proto, { prompt, json })).text());
        assert.equal(c.text, expectedJson(prompt, 24, json), JSON.stringify(json));
        assert.equal(c.terminated, true);
      }
    });

    const whole = expectedJson(prompt, 24, { schema });
    const given = whole.split(' ').slice(0, 4).join(' ');
    const cut = [
      { role: 'user' as const, text: prompt },
      { role: 'assistant' as const, text: given },
      { role: 'user' as const, text: CONTINUE_INSTRUCTION },
    ];
    const prefilled = cut.slice(0, 2);

    it('asked in words, continues a cut-off or prefilled JSON answer with only the rest', async () => {
      for (const messages of [cut, prefilled]) {
        const res = await call(sim, proto, { messages, json: { schema, words: true } });
        assert.deepEqual(JSON.parse(given + collect(proto, await res.text()).text), JSON.parse(whole));
      }
    });

    if (proto !== 'anthropic')
      it("constrained by the protocol's own field, answers a whole value even after a cut-off reply", async () => {
        const c = collect(proto, await (await call(sim, proto, { messages: cut, json: { schema } })).text());
        assert.equal(c.text, whole);
      });
  });
}
