import Markdown from 'react-markdown';
import { markdownProps } from './markdown.js';

/** Assistant text as Markdown, safely (see markdown.ts). */
export function MarkdownText({ text }: { text: string }) {
  return (
    <div className="markdown">
      <Markdown {...markdownProps}>{text}</Markdown>
    </div>
  );
}
