/**
 * How assistant text is rendered as Markdown, kept free of JSX so a plain Node test can check the
 * safety rules. react-markdown builds React elements (no innerHTML); `skipHtml` drops raw HTML
 * from the text, and its default urlTransform empties `javascript:`, `vbscript:` and `data:` URLs.
 * Links open in a new tab without access to this window.
 */
import { createElement, type ComponentProps } from 'react';
import type Markdown from 'react-markdown';

type Props = Omit<ComponentProps<typeof Markdown>, 'children'>;

export const markdownProps: Props = {
  skipHtml: true,
  components: {
    a: ({ href, children }) =>
      createElement('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, children),
    // An unsafe image URL is emptied by urlTransform: show its alt text rather than an <img src="">.
    img: ({ src, alt }) =>
      typeof src === 'string' && src ? createElement('img', { src, alt: alt ?? '' }) : (alt ?? null),
  },
};
