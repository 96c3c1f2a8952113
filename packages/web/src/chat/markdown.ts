/**
 * How assistant text is rendered as Markdown, kept free of JSX so a plain Node test can check the
 * safety rules. react-markdown builds React elements (no innerHTML); `skipHtml` drops raw HTML
 * from the text, and its default urlTransform empties `javascript:`, `vbscript:` and `data:` URLs.
 * Links open in a new tab without access to this window. GitHub Flavored Markdown (remark-gfm)
 * adds tables, strikethrough, task lists and bare-URL autolinks; those links go through the same
 * urlTransform and link component (an in-page link, a footnote's, stays in this tab). A table sits
 * in its own scroll box, so a wide one scrolls sideways inside the message instead of widening the
 * page.
 */
import { createElement, type ComponentProps } from 'react';
import type Markdown from 'react-markdown';
import remarkGfm from 'remark-gfm';

type Props = Omit<ComponentProps<typeof Markdown>, 'children'>;

export const markdownProps: Props = {
  skipHtml: true,
  remarkPlugins: [remarkGfm],
  components: {
    a: ({ href, children }) =>
      href?.startsWith('#')
        ? createElement('a', { href }, children)
        : createElement('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, children),
    // An unsafe image URL is emptied by urlTransform: show its alt text rather than an <img src="">.
    img: ({ src, alt }) =>
      typeof src === 'string' && src ? createElement('img', { src, alt: alt ?? '' }) : (alt ?? null),
    table: ({ children }) =>
      createElement('div', { className: 'md-table-scroll' }, createElement('table', null, children)),
  },
};
