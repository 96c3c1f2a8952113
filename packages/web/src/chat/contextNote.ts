/**
 * The note on an answer asked without the start of a long conversation, kept free of JSX so a
 * plain Node test can check it. Without it a member wonders why the Mate "forgot" what was said
 * at the start of the thread: the conversation outgrew the model's context window.
 */
import type { Message } from '../api/types.js';

/**
 * "Answered from the latest messages: 12 earlier ones did not fit the context window of Sim A Large."
 * (worded for an answer still being written, or one that did not complete), or null when the
 * answer was asked with the whole conversation. The model named is the one first asked, whose
 * window decided what was sent, though a backup may have answered.
 */
export function contextNote(
  m: Pick<Message, 'contextLeftOut' | 'model' | 'fallback' | 'status'>,
  label: (modelId: string) => string,
): string | null {
  const n = m.contextLeftOut;
  const modelId = m.fallback?.originalModel ?? m.model;
  if (!n || n <= 0 || !modelId) return null;
  const lead =
    m.status === 'in_progress'
      ? 'Answering from the latest messages'
      : m.status === 'complete'
        ? 'Answered from the latest messages'
        : 'Asked with the latest messages';
  const earlier = n === 1 ? '1 earlier one' : `${n.toLocaleString('en')} earlier ones`;
  return `${lead}: ${earlier} did not fit the context window of ${label(modelId)}.`;
}
