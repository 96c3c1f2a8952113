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

/** Where Models Management → Settings is; the Models tab's refusals link there. */
export const SETTINGS_TAB = '/settings/models/settings';

/**
 * The Models tab's "Change it in Settings" link for a refusal of disabling or removing a model a
 * setting names: the settings and the model ride in the query, so the Settings tab can mark the
 * dropdown to change (and a reload or Back/Forward keeps that context). None for another error.
 */
export function settingsLinkFor(e: unknown, modelId: string): string | undefined {
  const fields = refusedSettings(e);
  if (fields.length === 0) return undefined;
  const q = new URLSearchParams({ refused: fields.join(','), model: modelId });
  return `${SETTINGS_TAB}?${q.toString()}`;
}

/** A refusal handed over from the Models tab (see settingsLinkFor): the settings, and the model. */
export interface HandedOverRefusal {
  fields: SettingsField[];
  modelId: string;
}

/** Reads settingsLinkFor's query back; undefined when it names no known setting. */
export function handedOverRefusal(search: string): HandedOverRefusal | undefined {
  const q = new URLSearchParams(search);
  const fields = (q.get('refused') ?? '')
    .split(',')
    .filter((f): f is SettingsField => (SETTINGS_FIELDS as readonly string[]).includes(f));
  const modelId = q.get('model') ?? '';
  return fields.length > 0 && modelId ? { fields, modelId } : undefined;
}
