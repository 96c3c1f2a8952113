/** Token estimates for when a provider reports no usage, and for context-window checks. */
import type { ChatMessage, ChatRequest } from './types/chat.js';

/** Rough cost of one image in tokens (providers charge a few hundred to ~1.5k). */
const IMAGE_TOKENS = 1000;

/** Estimated tokens of a text: about four characters a token for English, at least one a word. */
export function estimateTextTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.max(Math.ceil(text.length / 4), wordCount(text));
}

const WHITESPACE = /\s/;

/** Runs of non-whitespace, counted without building them: this runs over the whole conversation every answer. */
function wordCount(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // ASCII whitespace by code; anything else beyond ASCII as the regex's \s has it (NBSP, U+2028…).
    const space = c === 32 || (c >= 9 && c <= 13) || (c > 127 && WHITESPACE.test(text[i] as string));
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

/** Estimated tokens of one message (its text, images and tool calls, plus the role's overhead). */
export function messageTokens(m: ChatMessage): number {
  const overhead = 4; // role and separators
  if (typeof m.content !== 'string') {
    return (
      overhead +
      m.content.reduce((n, p) => n + (p.type === 'text' ? estimateTextTokens(p.text) : IMAGE_TOKENS), 0)
    );
  }
  const calls = m.role === 'assistant' ? (m.toolCalls ?? []) : [];
  return (
    overhead +
    estimateTextTokens(m.content) +
    calls.reduce((n, c) => n + estimateTextTokens(c.name + c.arguments), 0)
  );
}

/** Estimated input tokens of a whole request (messages and tool definitions). */
export function estimateRequestTokens(req: ChatRequest): number {
  const tools = (req.tools ?? []).reduce((n, t) => n + estimateTextTokens(JSON.stringify(t)), 0);
  // A schema goes to the model too (in its protocol's field, or in words).
  const schema = req.jsonSchema ? estimateTextTokens(JSON.stringify(req.jsonSchema)) : 0;
  return req.messages.reduce((n, m) => n + messageTokens(m), 0) + tools + schema;
}

/** True when the conversation uses images. */
export function usesImages(req: ChatRequest): boolean {
  return req.messages.some(
    (m) => m.role === 'user' && typeof m.content !== 'string' && m.content.some((p) => p.type === 'image'),
  );
}

/** True when the conversation offers or uses tools. */
export function usesTools(req: ChatRequest): boolean {
  return (
    (req.tools?.length ?? 0) > 0 ||
    req.messages.some((m) => m.role === 'tool' || (m.role === 'assistant' && (m.toolCalls?.length ?? 0) > 0))
  );
}
