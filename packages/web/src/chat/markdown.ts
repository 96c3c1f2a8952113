/**
 * How assistant text is rendered as Markdown, kept free of JSX so a plain Node test can check the
 * safety rules. react-markdown builds React elements (no innerHTML); `skipHtml` drops raw HTML
 * from the text, and its default urlTransform empties `javascript:`, `vbscript:` and `data:` URLs.
 * Links open in a new tab without access to this window; a link whose URL was emptied is plain
 * text. GitHub Flavored Markdown (remark-gfm) adds tables, strikethrough, task lists and bare-URL
 * autolinks; those links go through the same urlTransform and link component (an in-page link, a
 * footnote's, stays in this tab). A table sits in its own scroll box, so a wide one scrolls
 * sideways inside the message instead of widening the page. Images are never loaded: each is a
 * link to its URL, named by its alt text.
 */
import { createElement, Fragment, type ComponentProps } from 'react';
import type Markdown from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { iconSvgProps } from '../ui/iconProps.js';

type Props = Omit<ComponentProps<typeof Markdown>, 'children'>;

/**
 * A framed picture, decorative (an SVG like those of ui/icons.tsx). Built with createElement: this
 * file stays free of JSX for the Node test.
 */
const imageIcon = () =>
  createElement(
    'svg',
    iconSvgProps,
    createElement('rect', { x: 2, y: 3, width: 12, height: 10, rx: 1.5 }),
    createElement('circle', { cx: 6, cy: 6.5, r: 1.2 }),
    createElement('path', { d: 'M2.5 12l3.5-3.5 2.5 2.5 2-2 3 3' }),
  );

/**
 * An image in an answer, as a link to it rather than an <img>: loading it by itself would let an
 * answer steered by injected text send the conversation to any host (in the URL) the moment the
 * member opens the chat. Nothing is fetched until the member clicks. An unsafe URL (emptied by
 * urlTransform) leaves just the alt text.
 */
function imageLink(src: unknown, alt: string | undefined) {
  const text = alt || 'image';
  if (typeof src !== 'string' || !src) return alt ?? null;
  return createElement(
    'a',
    {
      href: src,
      target: '_blank',
      rel: 'noopener noreferrer nofollow',
      className: 'md-image-link',
      title: src,
    },
    // Seen: the icon and the alt text; heard: "Image: <alt>".
    imageIcon(),
    createElement('span', { className: 'visually-hidden' }, 'Image:'),
    ` ${text}`,
  );
}

export const markdownProps: Props = {
  skipHtml: true,
  remarkPlugins: [remarkGfm],
  components: {
    a: ({ href, children }) =>
      // No URL left (urlTransform emptied an unsafe one): the text alone. An empty href with
      // target=_blank would open a copy of this page.
      !href
        ? createElement(Fragment, null, children)
        : href.startsWith('#')
          ? createElement('a', { href }, children)
          : createElement('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, children),
    img: ({ src, alt }) => imageLink(src, alt),
    table: ({ children }) =>
      createElement('div', { className: 'md-table-scroll' }, createElement('table', null, children)),
  },
};
