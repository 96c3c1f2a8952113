// Assistant text is Markdown rendered without raw HTML and without javascript: links (SPEC §6).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import Markdown from 'react-markdown';
import { markdownProps } from '../src/chat/markdown.js';

const render = (text: string) => renderToStaticMarkup(createElement(Markdown, markdownProps, text));

test('markdown: code blocks and links render; links open in a new tab without opener', () => {
  const html = render('Hello **world**\n\n```js\nconst a = 1 < 2;\n```\n\n[docs](https://example.com/x)');
  assert.match(html, /<strong>world<\/strong>/);
  assert.match(html, /<pre><code class="language-js">const a = 1 &lt; 2;\n<\/code><\/pre>/);
  assert.match(
    html,
    /<a href="https:\/\/example.com\/x" target="_blank" rel="noopener noreferrer nofollow">docs<\/a>/,
  );
});

test('markdown: raw HTML is not rendered', () => {
  const html = render(
    'before <img src=x onerror="alert(1)"> <script>alert(2)</script> after\n\n<div onclick="x()">block</div>',
  );
  assert.doesNotMatch(html, /<img|<script|<div onclick|onerror/i);
  assert.match(html, /before/);
});

test('markdown: javascript: and other unsafe links are emptied', () => {
  for (const url of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'vbscript:msgbox(1)',
    'data:text/html,<b>x</b>',
  ]) {
    const html = render(`[click](${url}) and ![img](${url})`);
    assert.doesNotMatch(html, /javascript:|vbscript:|data:/i, url);
  }
});

test('markdown: GFM tables render as a table in a scroll box, with alignment', () => {
  const html = render('| Model | Tier |\n| :--- | ---: |\n| Sim A | 1 |\n| Sim B | 2 |');
  assert.match(html, /^<div class="md-table-scroll"><table><thead><tr>/);
  assert.match(html, /<th style="text-align:left">Model<\/th><th style="text-align:right">Tier<\/th>/);
  assert.match(
    html,
    /<tbody><tr><td style="text-align:left">Sim A<\/td><td style="text-align:right">1<\/td><\/tr>/,
  );
  assert.doesNotMatch(html, /\|/);
});

test('markdown: strikethrough and bare-URL autolinks render; autolinks open in a new tab', () => {
  const html = render('~~old~~ new, see https://example.com/docs and www.example.org.');
  assert.match(html, /<del>old<\/del> new/);
  assert.match(
    html,
    /<a href="https:\/\/example.com\/docs" target="_blank" rel="noopener noreferrer nofollow">https:\/\/example.com\/docs<\/a>/,
  );
  assert.match(
    html,
    /<a href="http:\/\/www.example.org" target="_blank" rel="noopener noreferrer nofollow">/,
  );
});

test('markdown: tables and GFM autolinks keep the safety rules', () => {
  const html = render(
    '| a | b |\n| - | - |\n| <img src=x onerror="alert(1)"> | [x](javascript:alert(1)) |\n| <script>alert(2)</script> | javascript:alert(3) |',
  );
  assert.match(html, /<table>/);
  assert.doesNotMatch(html, /<img|<script|onerror|href="javascript:/i);
  // A bare "javascript:" is text, never a link.
  assert.doesNotMatch(html, /<a[^>]*href="[^"]*alert/i);
});

test('markdown: a footnote link stays in this tab; its target id carries the given prefix', () => {
  const html = renderToStaticMarkup(
    createElement(
      Markdown,
      { ...markdownProps, remarkRehypeOptions: { clobberPrefix: 'mdr1-' } },
      'Claim[^1]\n\n[^1]: Source.',
    ),
  );
  assert.match(html, /<a href="#mdr1-fn-1">1<\/a>/);
  assert.match(html, /<li id="mdr1-fn-1">/);
});

test('markdown: an image is not loaded; it is a link to its URL named by its alt text', () => {
  const html = render(
    'Look: ![status](http://127.0.0.1:1/pixel.png?x=secret) and ![](https://example.com/a.png)',
  );
  // No <img> at all: a remote image would be fetched as soon as the answer is shown.
  assert.doesNotMatch(html, /<img/i);
  assert.match(
    html,
    /<a href="http:\/\/127.0.0.1:1\/pixel.png\?x=secret" target="_blank" rel="noopener noreferrer nofollow" class="md-image-link" title="[^"]*"><svg [^>]*aria-hidden="true"[^>]*>.*?<\/svg><span class="visually-hidden">Image:<\/span> status<\/a>/,
  );
  // Without alt text it still says what it is.
  assert.match(html, /href="https:\/\/example.com\/a.png"[^>]*>.*Image:<\/span> image<\/a>/);
});
