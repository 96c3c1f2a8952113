/** Token estimates: four characters a token, at least one a word, words split as `\s+` splits them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateRequestTokens, estimateTextTokens } from '../src/index.js';

/** The definition the counter must keep: at least one token per whitespace-separated word. */
const byDefinition = (text: string): number =>
  text.length === 0 ? 0 : Math.max(Math.ceil(text.length / 4), text.split(/\s+/).filter(Boolean).length);

test('tokens: words are counted as \\s+ splits them, Unicode spaces included', () => {
  assert.equal(estimateTextTokens(''), 0);
  assert.equal(estimateTextTokens('a b c d e f'), 6);
  assert.equal(estimateTextTokens('a\u00a0b\u2028c\u3000d\ufeffe\u1680f'), 6);
  assert.equal(estimateTextTokens('a\u200bb'), 1); // zero-width space is not whitespace to \s
  assert.equal(estimateTextTokens('antidisestablishment'), 5);
  const pieces = [
    'a',
    'é',
    '🎉',
    ' ',
    '\n',
    '\t',
    '\r',
    '\v',
    '\f',
    '\u00a0',
    '\u2000',
    '\u2028',
    '\u205f',
    '\u3000',
    '\ufeff',
    '\u200b',
    '\u180e',
  ];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 5000; i++) {
    const text = Array.from(
      { length: Math.floor(rnd() * 24) },
      () => pieces[Math.floor(rnd() * pieces.length)],
    ).join('');
    assert.equal(estimateTextTokens(text), byDefinition(text), JSON.stringify(text));
  }
});

test('tokens: a request counts every message with its overhead', () => {
  const n = estimateRequestTokens({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'one two three four five six seven' },
    ],
  });
  assert.equal(n, 4 + 3 + 4 + 9);
});
