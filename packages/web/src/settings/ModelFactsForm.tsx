import type { FormEvent } from 'react';
import { useState } from 'react';
import type { ModelFacts } from '../api/endpoints.js';
import type { AdminModel } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import {
  CAPABILITIES,
  fieldError,
  focusField,
  intFromForm,
  NumberFact,
  formText as str,
  timeoutsFromForm,
  TimeoutFields,
  type FieldError,
} from './modelFields.js';

/**
 * Editing a model's facts: label, upstream name, tier, context window, max output tokens,
 * capabilities, tags and timeouts. An empty context window, max output tokens or timeout clears the
 * model's own value (the catalog's or the engine's default applies). A refusal shows here, with its
 * field focused; `onSave` rejects to refuse.
 */
export function ModelFactsForm({
  model: m,
  onSave,
  onCancel,
}: {
  model: AdminModel;
  onSave: (facts: ModelFacts) => Promise<void>;
  onCancel: () => void;
}) {
  const [error, setError] = useState<FieldError>();
  const [saving, setSaving] = useState(false);
  const [reasoning, setReasoning] = useState(m.capabilities.includes('reasoning'));
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(undefined);
    setSaving(true);
    try {
      await onSave({
        label: str(f, 'label'),
        upstreamModel: str(f, 'upstreamModel'),
        tier: Number(str(f, 'tier')),
        contextWindow: intFromForm(f, 'contextWindow') ?? null,
        maxOutputTokens: intFromForm(f, 'maxOutputTokens') ?? null,
        capabilities: CAPABILITIES.filter((c) => f.get(`cap-${c}`) === 'on'),
        tags: str(f, 'tags')
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        timeouts: timeoutsFromForm(f),
      });
    } catch (err) {
      const fe = fieldError(err);
      setError(fe);
      focusField(form, fe.field);
    } finally {
      setSaving(false);
    }
  };
  const invalid = (name: string) => error?.field === name || undefined;
  return (
    <form className="facts-form" onSubmit={(e) => void submit(e)} aria-label={`Edit ${m.label}`}>
      <label className="field">
        <span>Label</span>
        <input name="label" defaultValue={m.label} required aria-invalid={invalid('label')} />
      </label>
      <label className="field">
        <span>Upstream model name</span>
        <input
          name="upstreamModel"
          defaultValue={m.upstreamModel}
          required
          aria-invalid={invalid('upstreamModel')}
        />
      </label>
      <NumberFact name="tier" defaultValue={m.tier} required invalid={invalid('tier')} />
      <NumberFact
        name="contextWindow"
        defaultValue={m.contextWindow ?? ''}
        placeholder="unknown"
        invalid={invalid('contextWindow')}
      />
      <NumberFact
        name="maxOutputTokens"
        defaultValue={m.maxOutputTokens ?? ''}
        placeholder="unknown"
        invalid={invalid('maxOutputTokens')}
      />
      <label className="field">
        <span>Compliance tags</span>
        <input
          name="tags"
          placeholder="comma-separated, e.g. eu-hosted"
          defaultValue={m.tags.join(', ')}
          aria-invalid={invalid('tags')}
        />
      </label>
      <fieldset className="field span-all">
        <legend>Capabilities</legend>
        {CAPABILITIES.map((c) => (
          <label key={c} className="check">
            <input
              type="checkbox"
              name={`cap-${c}`}
              defaultChecked={m.capabilities.includes(c)}
              onChange={c === 'reasoning' ? (e) => setReasoning(e.target.checked) : undefined}
            />{' '}
            {c}
          </label>
        ))}
      </fieldset>
      <TimeoutFields timeouts={m.timeouts} reasoning={reasoning} invalid={error?.field} />
      {error && (
        <div className="span-all">
          <ErrorText message={`Not saved: ${error.message}`} />
        </div>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={saving}>
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
