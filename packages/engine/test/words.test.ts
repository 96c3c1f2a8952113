/** The standard error's sentences: each part ends with exactly one period, or its own "?" / "!". */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asSentences } from '../src/executor/words.js';

test('parts end with one period; a provider sentence ending in ? or ! keeps its own end', () => {
  assert.equal(asSentences(['A failed', 'B failed.', 'C failed...  ']), 'A failed. B failed. C failed.');
  assert.equal(
    asSentences(['Sim A on Simulator A was rate limited: Slow down!', 'Is the key valid?', 'No backup']),
    'Sim A on Simulator A was rate limited: Slow down! Is the key valid? No backup.',
  );
});
