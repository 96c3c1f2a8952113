/**
 * Models Management → Settings: the Default Model, and directly below it the Fallback Model
 * dropdown (Automatic, None, then every available model except the Default Model). When the
 * server refuses a change, its message is shown with the rules of SPEC §2.2 in plain words.
 */
import { useEffect, useState } from 'react';
import { ApiError } from '../api/client.js';
import { admin } from '../api/endpoints.js';
import type { AdminModel, FallbackSetting, OrgSettings } from '../api/types.js';

function fallbackValue(f: FallbackSetting): string {
  return f.mode === 'specific' ? f.model : f.mode;
}
function toSetting(value: string): FallbackSetting {
  return value === 'automatic' || value === 'none' ? { mode: value } : { mode: 'specific', model: value };
}

const HELP: Record<string, string> = {
  automatic:
    'Automatic (default): Understudy picks the best available backup model when the primary is unavailable.',
  none: 'None: no fallback. When a model fails, members see the standard error and retry by hand.',
  specific: 'Specific Model: this model always acts as the backup.',
};

export function FallbackSettingsTab() {
  const [settings, setSettings] = useState<OrgSettings>();
  const [models, setModels] = useState<AdminModel[]>([]);
  const [refusal, setRefusal] = useState<string>();
  const [saved, setSaved] = useState<string>();

  useEffect(() => {
    void Promise.all([admin.settings(), admin.models()]).then(([s, m]) => {
      setSettings(s);
      setModels(m);
    });
  }, []);

  const save = async (change: { defaultModel?: string; fallback?: FallbackSetting }, what: string) => {
    setRefusal(undefined);
    setSaved(undefined);
    try {
      setSettings(await admin.saveSettings(change));
      setSaved(`${what} saved.`);
    } catch (e) {
      setRefusal(e instanceof ApiError ? e.message : String(e));
    }
  };

  if (!settings) return <p className="loading">Loading…</p>;
  const current = fallbackValue(settings.fallback);
  const enabled = models.filter((m) => m.enabled);
  return (
    <section className="card settings-form" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <label className="field">
        <span>Default Model</span>
        <select
          value={settings.defaultModel ?? ''}
          onChange={(e) => void save({ defaultModel: e.target.value }, 'Default Model')}
        >
          {settings.defaultModel === null && <option value="">(none set)</option>}
          {enabled.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
            </option>
          ))}
        </select>
        <span className="hint">New Mates answer with this model unless they pick another.</span>
      </label>
      <label className="field">
        <span>Fallback Model</span>
        <select
          value={current}
          onChange={(e) => void save({ fallback: toSetting(e.target.value) }, 'Fallback Model')}
        >
          {settings.fallbackChoices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.value === 'automatic' ? 'Automatic (default)' : c.label}
            </option>
          ))}
        </select>
        <span className="hint">{HELP[settings.fallback.mode]}</span>
      </label>
      {saved && (
        <p className="ok-text" role="status">
          {saved}
        </p>
      )}
      {refusal && (
        <div className="refusal" role="alert">
          <p>
            <strong>Not saved:</strong> {refusal}
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
