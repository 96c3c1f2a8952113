/** The SPEC §2.2 rules for the Default Model and Fallback Model settings, as pure checks, and their refusals as data. */
import type { FallbackSetting, ModelConfig } from '@understudy/engine';
import { HttpError } from '../http/index.js';

/** The settings after a change. */
export interface SettingsState {
  defaultModelId: string | null;
  fallback: FallbackSetting;
}

/** A setting a refusal names, as the PUT /api/admin/settings body spells it. */
export type SettingsField = 'defaultModel' | 'fallback.model';

/** Why a settings change (or a model change that would break the settings) is refused: stable, for clients. */
export type SettingsRefusalReason =
  | 'default_model_required'
  | 'default_model_unknown'
  | 'default_model_disabled'
  | 'default_model_is_fallback_model'
  | 'fallback_model_unknown'
  | 'fallback_model_disabled'
  | 'fallback_model_is_default_model'
  | 'model_is_default_model'
  | 'model_is_fallback_model';

/**
 * A refused settings change as data: the reason, the settings involved (the one the change set
 * first; a loop names both), and the message for people, which keeps its "field: " prefix for
 * API users who read only the text.
 */
export interface SettingsRefusal {
  reason: SettingsRefusalReason;
  fields: SettingsField[];
  message: string;
}

/**
 * Checks a settings change against the available list; returns the refusal, or undefined when
 * the change is valid. `before` decides which of the two loop refusals applies.
 */
export function settingsRefusal(
  before: SettingsState,
  after: SettingsState,
  models: ModelConfig[],
): SettingsRefusal | undefined {
  const find = (id: string) => models.find((m) => m.id === id);
  const id = after.defaultModelId;
  const onDefault = (reason: SettingsRefusalReason, what: string): SettingsRefusal => ({
    reason,
    fields: ['defaultModel'],
    message: `defaultModel: ${what}`,
  });
  const onFallback = (reason: SettingsRefusalReason, what: string): SettingsRefusal => ({
    reason,
    fields: ['fallback.model'],
    message: `fallback.model: ${what}`,
  });
  if (id === null) return onDefault('default_model_required', 'a Default Model is required');
  const dm = find(id);
  if (!dm) return onDefault('default_model_unknown', `"${id}" is not in the available list`);
  if (!dm.enabled) return onDefault('default_model_disabled', `"${id}" is disabled; enable it first`);
  if (after.fallback.mode === 'specific') {
    const fid = after.fallback.modelId;
    const m = find(fid);
    if (!m) return onFallback('fallback_model_unknown', `"${fid}" is not in the available list`);
    if (!m.enabled) return onFallback('fallback_model_disabled', `"${fid}" is disabled; enable it first`);
    if (fid === id) {
      const defaultChanged = after.defaultModelId !== before.defaultModelId;
      const fallbackUnchanged = before.fallback.mode === 'specific' && before.fallback.modelId === fid;
      return defaultChanged && fallbackUnchanged
        ? {
            reason: 'default_model_is_fallback_model',
            fields: ['defaultModel', 'fallback.model'],
            message: `defaultModel: "${id}" is the Specific Fallback Model, so it cannot also be the Default Model; choose another Fallback Model (or Automatic) first`,
          }
        : {
            reason: 'fallback_model_is_default_model',
            fields: ['fallback.model', 'defaultModel'],
            message: `fallback.model: the Specific Fallback Model cannot be the Default Model ("${id}"): a model cannot back itself up; choose another model, Automatic or None`,
          };
    }
  }
  return undefined;
}

/** The message of `settingsRefusal`, or undefined when the change is valid (the bootstrap file's check). */
export function checkSettings(
  before: SettingsState,
  after: SettingsState,
  models: ModelConfig[],
): string | undefined {
  return settingsRefusal(before, after, models)?.message;
}

/**
 * Disabling or removing a model the settings name would leave them pointing at nothing: the
 * refusal names the setting to change first. `doing` ends the message ("before disabling it").
 */
export function modelInSettingsRefusal(
  modelId: string,
  settings: { defaultModelId: string | null; fallbackModelId: string | null },
  doing: string,
): SettingsRefusal | undefined {
  if (settings.defaultModelId === modelId)
    return {
      reason: 'model_is_default_model',
      fields: ['defaultModel'],
      message: `"${modelId}" is the Default Model; choose another Default Model ${doing}`,
    };
  if (settings.fallbackModelId === modelId)
    return {
      reason: 'model_is_fallback_model',
      fields: ['fallback.model'],
      message: `"${modelId}" is the Specific Fallback Model; choose another Fallback Model ${doing}`,
    };
  return undefined;
}

/** A refusal as the API's error (`{ error: { code, message, reason, fields } }`), to throw. */
export function refusalError(status: number, code: string, refusal: SettingsRefusal): HttpError {
  return new HttpError(status, code, refusal.message, { reason: refusal.reason, fields: refusal.fields });
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
