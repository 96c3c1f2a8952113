import { asSentence } from '../ui/sentence.js';

/**
 * A refused settings save in the admin's words: the server names the field ("defaultModel: …")
 * and the model by its id in quotes; the form already says which setting, and the admin knows the
 * model by its label.
 */
export function settingsRefusal(message: string, label: (modelId: string) => string | undefined): string {
  const text = message
    .replace(/^[A-Za-z]+(?:\.[A-Za-z]+)*: /, '')
    .replace(/"([^"]+)"/g, (quoted, id: string) => label(id) ?? quoted);
  return asSentence(text);
}
