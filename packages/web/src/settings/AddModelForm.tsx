import type { FormEvent } from 'react';
import { useId, useState } from 'react';
import { admin, type ModelCapability, type NewModel } from '../api/endpoints.js';
import type { AdminModel, ProviderType } from '../api/types.js';
import { ErrorText } from '../ui/ErrorText.js';
import { Link } from '../ui/Link.js';
import { useAsync } from '../ui/useAsync.js';
import {
  CAPABILITIES,
  catalogFacts,
  fieldError,
  focusField,
  formText,
  intFromForm,
  NumberFact,
  suggestModelId,
  timeoutsFromForm,
  TimeoutFields,
  type FieldError,
} from './modelFields.js';

/** Which built-in catalog entries to suggest for a provider type. */
const CATALOG_TYPE: Record<ProviderType, ProviderType> = {
  openai: 'openai',
  'azure-openai': 'openai',
  anthropic: 'anthropic',
  google: 'google',
  'openai-compatible': 'openai-compatible',
};

const fmt = (n: number) => n.toLocaleString('en');

/**
 * Adding a model to the available list: one of the organization's providers, the upstream model
 * name, an id (suggested from the upstream name until edited) and optional facts. For a model of
 * the built-in catalog, empty facts take the catalog's; any other needs its tier. A refusal shows
 * below the form with its field focused.
 */
export function AddModelForm({
  existingIds,
  onAdded,
}: {
  existingIds: string[];
  onAdded: (m: AdminModel) => void;
}) {
  const providers = useAsync(admin.providers);
  const catalog = useAsync(admin.catalog);
  const [provider, setProvider] = useState('');
  const [upstream, setUpstream] = useState('');
  const [id, setId] = useState('');
  const [idEdited, setIdEdited] = useState(false);
  /** The capabilities chosen by hand; null while they follow the catalog. */
  const [caps, setCaps] = useState<ModelCapability[] | null>(null);
  const [error, setError] = useState<FieldError>();
  const [added, setAdded] = useState<string>();
  const [busy, setBusy] = useState(false);
  const uid = useId();

  const list = providers.data ?? [];
  const chosen = list.find((p) => p.id === provider) ?? list[0];
  const known = catalogFacts(catalog.data ?? [], upstream);
  const suggestions = (catalog.data ?? []).filter(
    (m) => chosen && m.providerType === CATALOG_TYPE[chosen.type],
  );
  const shownCaps = caps ?? known?.capabilities ?? [];
  const suggestedId = suggestModelId(upstream, new Set(existingIds), chosen?.id);
  const idValue = idEdited ? id : suggestedId;
  const invalid = (name: string) => error?.field === name || undefined;

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const timeouts = timeoutsFromForm(f);
    const tags = formText(f, 'tags')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const tier = intFromForm(f, 'tier');
    const contextWindow = intFromForm(f, 'contextWindow');
    const maxOutputTokens = intFromForm(f, 'maxOutputTokens');
    const body: NewModel = {
      id: idValue.trim(),
      provider: chosen?.id ?? '',
      upstreamModel: upstream.trim(),
      ...(formText(f, 'label') && { label: formText(f, 'label') }),
      ...(tier !== undefined && { tier }),
      ...(contextWindow !== undefined && { contextWindow }),
      ...(maxOutputTokens !== undefined && { maxOutputTokens }),
      ...(caps !== null && { capabilities: caps }),
      ...(tags.length > 0 && { tags }),
      ...(timeouts && { timeouts }),
      ...(f.get('enabled') !== 'on' && { enabled: false }),
    };
    setError(undefined);
    setAdded(undefined);
    setBusy(true);
    try {
      const m = await admin.addModel(body);
      form.reset();
      setUpstream('');
      setId('');
      setIdEdited(false);
      setCaps(null);
      setAdded(`Added ${m.label} (${m.id}) to the available list.`);
      onAdded(m);
    } catch (err) {
      const fe = fieldError(err);
      setError(fe);
      // The field may sit in the closed "More facts" part: open it first.
      const el = fe.field ? form.elements.namedItem(fe.field) : null;
      const details = el instanceof HTMLElement ? el.closest('details') : null;
      if (details) details.open = true;
      focusField(form, fe.field);
    } finally {
      setBusy(false);
    }
  };

  if (!providers.data) return <ErrorText message={providers.error} />;
  if (list.length === 0) {
    return (
      <section className="card add-form">
        <h3>Add a model</h3>
        <p className="muted">
          The organization has no provider yet. <Link href="/settings/models/providers">Add a provider</Link>{' '}
          first, then its models here.
        </p>
      </section>
    );
  }
  const upstreamHint = !upstream.trim()
    ? 'The name the provider knows it by, e.g. gpt-4o. Well-known models get their facts from the built-in catalog.'
    : known
      ? `In the built-in catalog: ${known.label}, tier ${known.tier}, ${fmt(known.contextWindow)}-token context, ` +
        `${fmt(known.maxOutputTokens)} max output${known.capabilities.length ? `, ${known.capabilities.join(', ')}` : ''}. ` +
        'Empty fields below take these facts.'
      : 'Not in the built-in catalog: give its tier (and its context window, if you know it).';
  return (
    <form className="card add-form" aria-labelledby={`${uid}-title`} onSubmit={(e) => void submit(e)}>
      <h3 id={`${uid}-title`}>Add a model</h3>
      <div className="grid-form">
        <label className="field">
          <span>Provider</span>
          <select
            name="provider"
            value={chosen?.id ?? ''}
            onChange={(e) => setProvider(e.target.value)}
            aria-invalid={invalid('provider')}
          >
            {list.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        <div className="field">
          <label htmlFor={`${uid}-upstream`}>Upstream model name</label>
          <input
            id={`${uid}-upstream`}
            name="upstreamModel"
            value={upstream}
            onChange={(e) => setUpstream(e.target.value)}
            list={`${uid}-catalog`}
            autoComplete="off"
            required
            maxLength={200}
            aria-describedby={`${uid}-upstream-hint`}
            aria-invalid={invalid('upstreamModel')}
          />
          <datalist id={`${uid}-catalog`}>
            {suggestions.map((m) => (
              <option key={m.upstream} value={m.upstream}>
                {m.label}
              </option>
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor={`${uid}-id`}>Id</label>
          <input
            id={`${uid}-id`}
            name="id"
            value={idValue}
            onChange={(e) => {
              setIdEdited(true);
              setId(e.target.value);
            }}
            required
            maxLength={64}
            autoComplete="off"
            aria-describedby={`${uid}-id-hint`}
            aria-invalid={invalid('id')}
          />
          <span className="hint" id={`${uid}-id-hint`}>
            Used by the API and Mates; suggested from the upstream name.
          </span>
        </div>
      </div>
      <p className="hint catalog-note" id={`${uid}-upstream-hint`}>
        {upstreamHint}
      </p>
      <div className="grid-form narrow">
        <label className="field">
          <span>Label (optional)</span>
          <input
            name="label"
            maxLength={100}
            placeholder={known?.label ?? (idValue || 'the id')}
            aria-invalid={invalid('label')}
          />
        </label>
        <NumberFact
          name="tier"
          required={!known}
          placeholder={known ? `${known.tier} (catalog)` : '1 to 5'}
          invalid={invalid('tier')}
        />
        <NumberFact
          name="contextWindow"
          placeholder={known ? `${fmt(known.contextWindow)} (catalog)` : 'unknown'}
          invalid={invalid('contextWindow')}
        />
        <NumberFact
          name="maxOutputTokens"
          placeholder={known ? `${fmt(known.maxOutputTokens)} (catalog)` : 'unknown'}
          invalid={invalid('maxOutputTokens')}
        />
      </div>
      <details className="more-facts">
        <summary>Capabilities, tags, timeouts</summary>
        <div className="facts-form">
          <fieldset className="field">
            <legend>Capabilities{caps === null && known ? ' (from the catalog)' : ''}</legend>
            {CAPABILITIES.map((c) => (
              <label key={c} className="check">
                <input
                  type="checkbox"
                  name={`cap-${c}`}
                  checked={shownCaps.includes(c)}
                  onChange={(e) =>
                    setCaps(e.target.checked ? [...shownCaps, c] : shownCaps.filter((x) => x !== c))
                  }
                />{' '}
                {c}
              </label>
            ))}
          </fieldset>
          <label className="field">
            <span>Compliance tags</span>
            <input name="tags" placeholder="comma-separated, e.g. eu-hosted" aria-invalid={invalid('tags')} />
          </label>
          <TimeoutFields timeouts={null} reasoning={shownCaps.includes('reasoning')} invalid={error?.field} />
          <label className="check span-all">
            <input type="checkbox" name="enabled" defaultChecked /> Enabled (Mates and fallback may use it at
            once)
          </label>
        </div>
      </details>
      <ErrorText message={error && `Not added: ${error.message}`} />
      {added && (
        <p className="ok-text" role="status">
          {added}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy}>
        Add model
      </button>
    </form>
  );
}
