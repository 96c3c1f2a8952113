import type { FormEvent } from 'react';
import { useState } from 'react';
import { admin } from '../api/endpoints.js';
import type { Provider, ProviderType } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';

const TYPES: { value: ProviderType; label: string }[] = [
  { value: 'openai', label: 'OpenAI' },
  { value: 'anthropic', label: 'Anthropic' },
  { value: 'google', label: 'Google Gemini' },
  { value: 'azure-openai', label: 'Azure OpenAI' },
  { value: 'openai-compatible', label: 'OpenAI-compatible (Ollama, vLLM, Groq, Mistral…)' },
];

/** Adding a provider: id, type, label, base URL (optional for the big vendors) and API key. */
export function AddProviderForm({ onAdded }: { onAdded: (p: Provider) => void }) {
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const s = (k: string) => {
      const v = f.get(k);
      return typeof v === 'string' ? v.trim() : '';
    };
    setError(undefined);
    try {
      const p = await admin.addProvider({
        id: s('id'),
        type: s('type') as ProviderType,
        label: s('label'),
        ...(s('baseUrl') && { baseUrl: s('baseUrl') }),
        ...(s('apiKey') && { apiKey: s('apiKey') }),
      });
      form.reset();
      onAdded(p);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form className="card add-form" onSubmit={(e) => void submit(e)}>
      <h3>Add a provider</h3>
      <div className="grid-form">
        <label className="field">
          <span>Id (e.g. openai-main)</span>
          <input name="id" required />
        </label>
        <label className="field">
          <span>Type</span>
          <select name="type" defaultValue="openai">
            {TYPES.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Label</span>
          <input name="label" required />
        </label>
        <label className="field">
          <span>Base URL (optional for OpenAI, Anthropic, Gemini)</span>
          <input name="baseUrl" type="url" />
        </label>
        <label className="field">
          <span>API key</span>
          <input name="apiKey" type="password" autoComplete="off" />
        </label>
      </div>
      <ErrorText message={error} />
      <button type="submit" className="primary">
        Add provider
      </button>
    </form>
  );
}
