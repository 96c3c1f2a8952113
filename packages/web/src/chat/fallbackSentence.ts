/**
 * The amber icon's words, kept free of JSX so a plain Node test can check them: the tooltip's
 * sentence and the icon's accessible name, by the status of the answer the backup took over.
 */
import type { FallbackInfo, MessageStatus } from '../api/types.js';
import { reasonWords } from './reasons.js';

/** How an answer the backup took over ended, when it did not end complete (or is still being written). */
const ENDING: Partial<Record<MessageStatus, string>> = {
  failed: 'The answer could not be completed.',
  interrupted: 'The answer was interrupted.',
  cancelled: 'The answer was stopped.',
};

/**
 * The tooltip's sentence: the backup model, the original provider, and why it was unavailable
 * (for a primary that health memory skipped, the failure it remembers). Only a complete answer
 * was "answered by" the backup; a failed, interrupted or stopped one says the backup took over,
 * and one the backup continued from where the primary stopped names both.
 */
export function fallbackSentence(
  f: FallbackInfo,
  label: (modelId: string) => string,
  status: MessageStatus = 'complete',
): string {
  const provider = f.originalProviderLabel ?? f.originalProvider;
  const backup = label(f.backupModel);
  const why = f.skippedByHealth
    ? `${label(f.originalModel)} was skipped because provider ${provider} is known to be unavailable (when last tried, it ${reasonWords(f.reason)})`
    : `${label(f.originalModel)} ${reasonWords(f.reason)}`;
  const ending = ENDING[status];
  if (ending)
    return `The backup model ${backup} took over after the original provider ${provider} was unavailable: ${why}. ${ending}`;
  // A continued answer is both models' words: the primary's beginning stays in it.
  const continued = f.mode === 'prefill' || f.mode === 'instruct';
  const original = label(f.originalModel);
  const lead = continued
    ? status === 'in_progress'
      ? `The backup model ${backup} is completing the answer ${original} began.`
      : `${original} began this answer; the backup model ${backup} completed it.`
    : status === 'in_progress'
      ? `The backup model ${backup} is answering.`
      : `Answered by the backup model ${backup}.`;
  return `${lead} The original provider ${provider} was unavailable: ${why}.`;
}

/** The icon's accessible name: "answered by" only when the backup did answer (or is answering). */
export function fallbackIconName(status: MessageStatus = 'complete'): string {
  return ENDING[status] ? 'Backup model took over' : 'Answered by backup model';
}
