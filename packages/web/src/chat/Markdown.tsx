import { useId } from 'react';
import Markdown from 'react-markdown';
import { markdownProps } from './markdown.js';

/**
 * Assistant text as GitHub Flavored Markdown (tables, strikethrough, autolinks), safely (see
 * markdown.ts). Footnote ids get this message's own prefix, so two answers with footnotes on one
 * page do not share ids.
 */
export function MarkdownText({ text }: { text: string }) {
  const prefix = `md${useId().replace(/[^a-zA-Z0-9]/g, '')}-`;
  return (
    <div className="markdown">
      <Markdown {...markdownProps} remarkRehypeOptions={{ clobberPrefix: prefix }}>
        {text}
      </Markdown>
    </div>
  );
}
