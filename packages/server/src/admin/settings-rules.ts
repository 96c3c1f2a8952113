/** The SPEC §2.2 rules for the Default Model and Fallback Model settings, as a pure check. */
import type { FallbackSetting, ModelConfig } from '@understudy/engine';

/** The settings after a change. */
export interface SettingsState {
  defaultModelId: string | null;
  fallback: FallbackSetting;
}

/**
 * Checks a settings change against the available list; returns the message to show, or undefined
 * when the change is valid. `before` decides which of the two loop messages applies.
 */
export function checkSettings(
  before: SettingsState,
  after: SettingsState,
  models: ModelConfig[],
): string | undefined {
  const find = (id: string) => models.find((m) => m.id === id);
  const id = after.defaultModelId;
  if (id === null) return 'defaultModel: a Default Model is required';
  const dm = find(id);
  if (!dm) return `defaultModel: "${id}" is not in the available list`;
  if (!dm.enabled) return `defaultModel: "${id}" is disabled; enable it first`;
  if (after.fallback.mode === 'specific') {
    const fid = after.fallback.modelId;
    const m = find(fid);
    if (!m) return `fallback.model: "${fid}" is not in the available list`;
    if (!m.enabled) return `fallback.model: "${fid}" is disabled; enable it first`;
    if (fid === id) {
      const defaultChanged = after.defaultModelId !== before.defaultModelId;
      const fallbackUnchanged = before.fallback.mode === 'specific' && before.fallback.modelId === fid;
      return defaultChanged && fallbackUnchanged
        ? `defaultModel: "${id}" is the Specific Fallback Model, so it cannot also be the Default Model; choose another Fallback Model (or Automatic) first`
        : `fallback.model: the Specific Fallback Model cannot be the Default Model ("${id}"): a model cannot back itself up; choose another model, Automatic or None`;
    }
  }
  return undefined;
}

/** The Fallback Model dropdown: Automatic, None, then each enabled model except the Default Model. */
export function fallbackChoices(models: ModelConfig[], defaultModelId: string | null) {
  return [
    { value: 'automatic', label: 'Automatic' },
    { value: 'none', label: 'None' },
    ...models
      .filter((m) => m.enabled && m.id !== defaultModelId)
      .map((m) => ({ value: m.id, label: m.label })),
  ];
}
