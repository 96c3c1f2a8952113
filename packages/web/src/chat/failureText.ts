/** The standard error message's words, kept free of JSX so a plain Node test can check them. */
import type { FailureSide, Message } from '../api/types.js';
import { reasonWords } from './reasons.js';

/**
 * "Sim A Large on Simulator A was overloaded": a model and its provider as the tooltip names them
 * ("on", not brackets: labels often carry brackets of their own).
 */
const side = (f: FailureSide, label: (id: string) => string) =>
  `${label(f.model)} on ${f.providerLabel ?? f.provider} ${reasonWords(f.reason)}`;

/** The standard error message: what failed, in plain words, without any key or secret. */
export function failureText(m: Pick<Message, 'error'>, label: (id: string) => string): string {
  const e = m.error;
  if (!e?.primary) return e?.message ?? 'The answer could not be generated.';
  return `${side(e.primary, label)}${e.backup ? `; the backup ${side(e.backup, label)}` : ''}.`;
}
