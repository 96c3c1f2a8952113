import type { FormEvent } from 'react';
import type { ModelFacts } from '../api/endpoints.js';
import type { AdminModel } from '../api/types.js';

const CAPABILITIES = ['vision', 'tools', 'json', 'prefill', 'reasoning'];

function str(f: FormData, k: string): string {
  const v = f.get(k);
  return typeof v === 'string' ? v.trim() : '';
}

/** Editing a model's facts: label, upstream name, tier, context window, capabilities, tags. */
export function ModelFactsForm({
  model: m,
  onSave,
  onCancel,
}: {
  model: AdminModel;
  onSave: (facts: ModelFacts) => void;
  onCancel: () => void;
}) {
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const ctx = str(f, 'contextWindow');
    onSave({
      label: str(f, 'label'),
      upstreamModel: str(f, 'upstreamModel'),
      tier: Number(str(f, 'tier')),
      contextWindow: ctx ? Number(ctx) : null,
      capabilities: CAPABILITIES.filter((c) => f.get(`cap-${c}`) === 'on'),
      tags: str(f, 'tags')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    });
  };
  return (
    <form className="facts-form" onSubmit={submit} aria-label={`Edit ${m.label}`}>
      <label className="field">
        <span>Label</span>
        <input name="label" defaultValue={m.label} required />
      </label>
      <label className="field">
        <span>Upstream model name</span>
        <input name="upstreamModel" defaultValue={m.upstreamModel} required />
      </label>
      <label className="field">
        <span>Tier (quality rank)</span>
        <input name="tier" type="number" min={0} max={100} defaultValue={m.tier} required />
      </label>
      <label className="field">
        <span>Context window (tokens)</span>
        <input name="contextWindow" type="number" min={1} defaultValue={m.contextWindow ?? ''} />
      </label>
      <fieldset className="field">
        <legend>Capabilities</legend>
        {CAPABILITIES.map((c) => (
          <label key={c} className="check">
            <input type="checkbox" name={`cap-${c}`} defaultChecked={m.capabilities.includes(c)} /> {c}
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span>Compliance tags (comma-separated)</span>
        <input name="tags" defaultValue={m.tags.join(', ')} />
      </label>
      <div className="row">
        <button type="submit" className="primary">
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
