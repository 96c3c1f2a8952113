// The benchmark's ratios decide whether a goal passes: pairing must be round by round, and the table
// must show the paired figure, not the ratio of the medians.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Raw, table, type Row } from '../bench/lib/report.js';

/** Three rounds where the machine slows down by half in round 2 (both systems alike). */
function drifting(): Raw {
  const raw = new Raw();
  for (const [u, l] of [
    [10, 5],
    [30, 15],
    [12, 4],
  ] as const) {
    raw.add('x ms / understudy', u);
    raw.add('x ms / limit', l);
  }
  return raw;
}

describe('bench report', () => {
  it('pairs rounds: the median of per-round ratios, kept in the raw values', () => {
    const raw = drifting();
    // Per round 2, 2, 3: median 2. The ratio of the medians (12 ÷ 5) would say 2.4.
    assert.equal(raw.pair('x ms', 'understudy', 'limit'), 2);
    assert.deepEqual(raw.get('x ms / understudy ÷ limit'), [2, 2, 3]);
  });

  it('gives no ratio for a round whose denominator noise put at or below zero', () => {
    const raw = new Raw();
    for (const [u, l] of [
      [2, 1],
      [3, -0.5],
      [4, 0],
      [6, 2],
    ] as const) {
      raw.add('added ms / understudy', u);
      raw.add('added ms / limit', l);
    }
    // Rounds 2 and 3 say nothing about the ratio; the median is over rounds 1 and 4 (2 and 3).
    assert.equal(raw.pair('added ms', 'understudy', 'limit'), 2.5);
    assert.deepEqual(raw.get('added ms / understudy ÷ limit'), [2, Number.NaN, Number.NaN, 3]);
  });

  it('refuses to pair measurements with different numbers of rounds', () => {
    const raw = drifting();
    raw.add('x ms / limit', 7);
    assert.throws(() => raw.pair('x ms', 'understudy', 'limit'), /3 rounds of understudy but 4 of limit/);
  });

  it('shows the paired ratio in the table, and the ratio of medians only without one', () => {
    const raw = drifting();
    const base: Row = {
      scenario: '1',
      figure: 'x',
      unit: 'ms',
      values: { understudy: raw.median('x ms / understudy'), limit: raw.median('x ms / limit') },
      ratios: true,
      goals: [],
    };
    const paired = table([{ ...base, paired: { limit: raw.pair('x ms', 'understudy', 'limit') } }]);
    assert.match(paired, /\| 12\.00 \| 5\.00 \| — \| 2\.00 \| — \|/);
    assert.match(table([base]), /\| 12\.00 \| 5\.00 \| — \| 2\.40 \| — \|/);
  });
});
