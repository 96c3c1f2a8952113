import { ApiError } from '../api/client.js';
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

/** The settings of Models Management → Settings a refusal can name, as the API spells them. */
export const SETTINGS_FIELDS = ['defaultModel', 'fallback.model'] as const;
/** One of SETTINGS_FIELDS. */
export type SettingsField = (typeof SETTINGS_FIELDS)[number];

/**
 * The settings a refusal names in its data (the one the change set first), to mark them on the
 * page; none for another error, or a server that sends only text.
 */
export function refusedSettings(e: unknown): SettingsField[] {
  if (!(e instanceof ApiError)) return [];
  return e.refused.fields.filter((f): f is SettingsField =>
    (SETTINGS_FIELDS as readonly string[]).includes(f),
  );
}
