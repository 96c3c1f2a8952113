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
