import type { FormEvent, ReactNode } from 'react';
import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client.js';
import { admin } from '../api/endpoints.js';
import type { AdminModel, FallbackSetting, OrgSettings } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';
import { navigate } from '../ui/router.js';
import {
  handedOverRefusal,
  refusedSettings,
  SETTINGS_TAB,
  settingsRefusal,
  type HandedOverRefusal,
  type SettingsField,
} from './refusals.js';

function fallbackValue(f: FallbackSetting): string {
  return f.mode === 'specific' ? f.model : f.mode;
}
function toSetting(value: string): FallbackSetting {
  return value === 'automatic' || value === 'none' ? { mode: value } : { mode: 'specific', model: value };
}

/** The dropdown of each setting a refusal can name, and the refusal's own id (their description). */
const FIELD_IDS: Record<SettingsField, string> = {
  defaultModel: 'default-model',
  'fallback.model': 'fallback-model',
};
const REFUSAL_ID = 'settings-refusal';
/** How a refusal from the Models tab names each setting: what the model is, and what to change. */
const IS_NAMED: Record<SettingsField, [string, string]> = {
  defaultModel: ['the Default Model', 'Default Model'],
  'fallback.model': ['the Specific Fallback Model', 'Fallback Model'],
};

const HELP: Record<string, string> = {
  automatic:
    'Automatic (default): Understudy picks the best available backup model when the primary is unavailable.',
  none: 'None: no fallback. When a model fails, members see the standard error and retry by hand.',
  specific: 'Specific Model: this model always acts as the backup.',
};

/**
 * Models Management → Settings: the Default Model, and directly below it the Fallback Model
 * dropdown (Automatic, None, then every available model except the Default Model). Choosing an
 * option only changes the form; each setting is saved by its own Save button, so moving through a
 * dropdown with the arrow keys (which fires `change` at every step) saves nothing on the way.
 * When the server refuses a change, its message is shown with the rules of SPEC §2.2 in plain words,
 * and the settings its data names are marked (aria-invalid, described by the refusal), the first
 * one focused: a loop names both dropdowns, so the admin sees which one to change. The Models
 * tab's "Change it in Settings" link (a model the settings name could not be disabled or removed)
 * hands its refusal over in the query: that setting is marked and focused the same way.
 */
export function FallbackSettingsTab() {
  const [settings, setSettings] = useState<OrgSettings>();
  const [models, setModels] = useState<AdminModel[]>([]);
  const [loadError, setLoadError] = useState<string>();
  // Unsaved choices (undefined: the saved value is shown).
  const [draftDefault, setDraftDefault] = useState<string>();
  const [draftFallback, setDraftFallback] = useState<string>();
  // The refused save's text, and the settings its data names (marked, the first one focused).
  const [refusal, setRefusal] = useState<{ text: string; fields: SettingsField[] }>();
  // The Models tab's refusal this page was opened for, until a save here.
  const [handedOver, setHandedOver] = useState<HandedOverRefusal | undefined>(() =>
    handedOverRefusal(location.search),
  );
  const focusedHandedOver = useRef(false);
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    Promise.all([admin.settings(), admin.models()]).then(
      ([s, m]) => {
        if (!live) return;
        setSettings(s);
        setModels(m);
      },
      (e: unknown) => live && setLoadError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, []);

  // Once the dropdowns are there, the setting the Models tab's refusal names gets the focus.
  useEffect(() => {
    const first = handedOver?.fields[0];
    if (!settings || !first || focusedHandedOver.current) return;
    focusedHandedOver.current = true;
    document.getElementById(FIELD_IDS[first])?.focus();
  }, [settings, handedOver]);

  const save = async (
    change: { defaultModel?: string; fallback?: FallbackSetting },
    what: string,
    done: () => void,
  ) => {
    setRefusal(undefined);
    setHandedOver(undefined);
    setSaved(undefined);
    setBusy(true);
    try {
      setSettings(await admin.saveSettings(change));
      done();
      setSaved(`${what} saved.`);
      // The Models tab's refusal is dealt with: a reload no longer marks it.
      if (location.search) navigate(SETTINGS_TAB, true);
    } catch (e) {
      const label = (id: string) => models.find((m) => m.id === id)?.label;
      const fields = refusedSettings(e);
      setRefusal({ text: e instanceof ApiError ? settingsRefusal(e.message, label) : String(e), fields });
      const first = fields[0];
      if (first) document.getElementById(FIELD_IDS[first])?.focus();
    } finally {
      setBusy(false);
    }
  };

  if (!settings)
    return loadError ? (
      <ErrorText message={`The settings could not be loaded: ${loadError}`} />
    ) : (
      <p className="loading">Loading…</p>
    );
  const savedDefault = settings.defaultModel ?? '';
  const savedFallback = fallbackValue(settings.fallback);
  const defaultValue = draftDefault ?? savedDefault;
  const fallback = draftFallback ?? savedFallback;
  const enabled = models.filter((m) => m.enabled);
  const marked = refusal?.fields ?? handedOver?.fields ?? [];
  const submitDefault = (e: FormEvent) => {
    e.preventDefault();
    if (defaultValue !== savedDefault)
      void save({ defaultModel: defaultValue }, 'Default Model', () => setDraftDefault(undefined));
  };
  const submitFallback = (e: FormEvent) => {
    e.preventDefault();
    if (fallback !== savedFallback)
      void save({ fallback: toSetting(fallback) }, 'Fallback Model', () => setDraftFallback(undefined));
  };
  return (
    <section className="card settings-form" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <SelectSaveField
        id={FIELD_IDS.defaultModel}
        label="Default Model"
        value={defaultValue}
        saved={savedDefault}
        busy={busy}
        onChoose={(v) => {
          setSaved(undefined);
          setDraftDefault(v);
        }}
        onSubmit={submitDefault}
        refused={marked.includes('defaultModel')}
        hint="New Mates answer with this model unless they pick another."
      >
        {settings.defaultModel === null && <option value="">(none set)</option>}
        {enabled.map((m) => (
          <option key={m.id} value={m.id}>
            {m.label}
          </option>
        ))}
      </SelectSaveField>
      <SelectSaveField
        id={FIELD_IDS['fallback.model']}
        label="Fallback Model"
        value={fallback}
        saved={savedFallback}
        busy={busy}
        onChoose={(v) => {
          setSaved(undefined);
          setDraftFallback(v);
        }}
        onSubmit={submitFallback}
        refused={marked.includes('fallback.model')}
        hint={HELP[toSetting(fallback).mode]}
      >
        {settings.fallbackChoices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.value === 'automatic' ? 'Automatic (default)' : c.label}
          </option>
        ))}
      </SelectSaveField>
      {saved && (
        <p className="ok-text" role="status">
          {saved}
        </p>
      )}
      {!refusal && handedOver && (
        <HandedOverNote
          refusal={handedOver}
          label={models.find((m) => m.id === handedOver.modelId)?.label ?? handedOver.modelId}
        />
      )}
      {refusal && (
        <div className="refusal" role="alert" id={REFUSAL_ID}>
          <p>
            <strong>Not saved:</strong> {refusal.text}
          </p>
          <p className="small">
            The rules: a Specific Fallback Model cannot be the Default Model (a model cannot back itself up),
            so the list leaves the Default Model out; to make the current Specific Fallback Model the Default
            Model, first choose another Fallback Model (or Automatic). Both must be enabled models of the
            available list.
          </p>
        </div>
      )}
    </section>
  );
}

/** Why the Models tab sent the admin here: the model it could not disable or remove, and what to change. */
function HandedOverNote({ refusal, label }: { refusal: HandedOverRefusal; label: string }) {
  const [first] = refusal.fields;
  if (!first) return null;
  const [is, change] = IS_NAMED[first];
  return (
    <div className="refusal" id={REFUSAL_ID}>
      <p>
        <strong>Not disabled or removed:</strong> {label} is {is}. Choose another {change} here and save it,
        then disable or remove {label} in <Link href="/settings/models">Models</Link>.
      </p>
    </div>
  );
}

/** A labelled dropdown whose choice is saved only by its own Save button (enabled once it differs). */
function SelectSaveField(props: {
  id: string;
  label: string;
  value: string;
  saved: string;
  busy: boolean;
  onChoose: (value: string) => void;
  onSubmit: (e: FormEvent) => void;
  hint: ReactNode;
  /** Named by the refusal below: marked invalid and described by it. */
  refused: boolean;
  children: ReactNode;
}) {
  const hintId = `${props.id}-hint`;
  const dirty = props.value !== props.saved;
  return (
    <form className="field" onSubmit={props.onSubmit}>
      <label htmlFor={props.id}>{props.label}</label>
      <div className="select-save">
        <select
          id={props.id}
          value={props.value}
          aria-describedby={props.refused ? `${hintId} ${REFUSAL_ID}` : hintId}
          aria-invalid={props.refused || undefined}
          onChange={(e) => props.onChoose(e.target.value)}
        >
          {props.children}
        </select>
        <button
          type="submit"
          className="primary"
          aria-label={`Save ${props.label}`}
          disabled={props.busy || !dirty}
        >
          Save
        </button>
      </div>
      <span className="hint" id={hintId}>
        {props.refused && <strong className="refused-note">Named in the refusal below. </strong>}
        {dirty && <strong className="unsaved">Not saved yet. </strong>}
        {props.hint}
      </span>
    </form>
  );
}
