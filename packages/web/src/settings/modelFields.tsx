/**
 * Pieces shared by the Add model and Edit model forms: the per-model timeouts (seconds in the UI,
 * milliseconds in the API), the model id suggested from an upstream name, the built-in catalog
 * lookup, and mapping a server refusal to the field it names.
 */
import { useId } from 'react';
import type { CatalogModel, ModelCapability, ModelTimeoutsInput } from '../api/endpoints.js';
import type { ModelTimeouts } from '../api/types.js';

/** The capabilities a model can have, in the order the forms show them. */
export const CAPABILITIES: readonly ModelCapability[] = ['vision', 'tools', 'json', 'prefill', 'reasoning'];

/**
 * The engine's timeouts when a model sets none (SPEC §2.1; `DEFAULT_ENGINE_OPTIONS` in
 * packages/engine/src/executor/options.ts), in seconds. The first-token default also grows for very
 * long prompts.
 */
export const TIMEOUT_DEFAULTS_S = { connect: 5, firstToken: 10, reasoningFirstToken: 120, stall: 15 };

/** The bounds the API accepts for each timeout, in seconds (100 ms to 600 000 ms). */
const MIN_S = 0.1;
const MAX_S = 600;

/** A form field's trimmed text ('' when absent). */
export function formText(f: FormData, name: string): string {
  const v = f.get(name);
  return typeof v === 'string' ? v.trim() : '';
}

/** Milliseconds as the seconds shown in a field ('' for none). */
export function msToSeconds(ms: number | undefined): string {
  return ms === undefined ? '' : String(ms / 1000);
}

/** Seconds typed in a field as whole milliseconds (undefined when empty). */
export function secondsToMs(text: string): number | undefined {
  const t = text.trim();
  return t === '' ? undefined : Math.round(Number(t) * 1000);
}

/** The timeouts typed in a form with `TimeoutFields`: only those given, or null when none is. */
export function timeoutsFromForm(f: FormData): ModelTimeoutsInput | null {
  const out: ModelTimeoutsInput = {};
  const connectMs = secondsToMs(formText(f, 'connectS'));
  const firstTokenMs = secondsToMs(formText(f, 'firstTokenS'));
  const stallMs = secondsToMs(formText(f, 'stallS'));
  if (connectMs !== undefined) out.connectMs = connectMs;
  if (firstTokenMs !== undefined) out.firstTokenMs = firstTokenMs;
  if (stallMs !== undefined) out.stallMs = stallMs;
  return Object.keys(out).length > 0 ? out : null;
}

/** A whole number typed in a field (undefined when empty). */
export function intFromForm(f: FormData, name: string): number | undefined {
  const t = formText(f, name);
  return t === '' ? undefined : Number(t);
}

/** A model id (lowercase letters, digits, ".", "_", "-"; at most 64) made from an upstream name. */
export function suggestModelId(
  upstream: string,
  taken: ReadonlySet<string> = new Set(),
  provider = '',
): string {
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .replace(/[-._]+$/, '')
      .slice(0, 64)
      .replace(/[-._]+$/, '');
  const base = slug(upstream);
  if (!base || !taken.has(base)) return base;
  const withProvider = slug(`${base}-${provider}`);
  if (provider && !taken.has(withProvider)) return withProvider;
  for (let n = 2; ; n++) {
    const candidate = slug(`${base.slice(0, 60)}-${n}`);
    if (!taken.has(candidate)) return candidate;
  }
}

/** The built-in catalog entry the server would use for this upstream name (same rule as the server). */
export function catalogFacts(catalog: readonly CatalogModel[], upstream: string): CatalogModel | undefined {
  const name = upstream.trim().toLowerCase();
  if (!name) return undefined;
  return (
    catalog.find((m) => m.upstream === name) ??
    catalog.find((m) => name.replace(/-\d{4}-?\d{2}-?\d{2}$|-\d{8}$/, '') === m.upstream)
  );
}

/** The field names of the forms, by the API's field path, with the label they show. */
const FIELDS: Record<string, { name: string; label: string }> = {
  id: { name: 'id', label: 'Id' },
  provider: { name: 'provider', label: 'Provider' },
  upstreamModel: { name: 'upstreamModel', label: 'Upstream model name' },
  label: { name: 'label', label: 'Label' },
  tier: { name: 'tier', label: 'Tier' },
  contextWindow: { name: 'contextWindow', label: 'Context window' },
  maxOutputTokens: { name: 'maxOutputTokens', label: 'Max output tokens' },
  capabilities: { name: 'cap-vision', label: 'Capabilities' },
  tags: { name: 'tags', label: 'Compliance tags' },
  'timeouts.connectMs': { name: 'connectS', label: 'Connect timeout (ms)' },
  'timeouts.firstTokenMs': { name: 'firstTokenS', label: 'First-token timeout (ms)' },
  'timeouts.stallMs': { name: 'stallS', label: 'Stall timeout (ms)' },
  timeouts: { name: 'connectS', label: 'Timeouts' },
  enabled: { name: 'enabled', label: 'Enabled' },
};

/** A server refusal as shown next to a form: the message, and the form field it is about (if any). */
export interface FieldError {
  message: string;
  field?: string;
}

/**
 * Reads which field a refusal of the models API names: `body.<path>: what` (validation),
 * `provider: …` / `tier: …` (checks), or `a model with id … already exists` (409).
 */
export function fieldError(e: unknown): FieldError {
  const message = e instanceof Error ? e.message : String(e);
  if (/^a model with id /.test(message)) return { message, field: 'id' };
  const m = /^(?:body\.)?([A-Za-z.0-9]+): ([\s\S]*)$/.exec(message);
  if (!m?.[1] || m[2] === undefined) return { message };
  const path = m[1].replace(/(\.\d+)+$/, '').replace(/\.\d+\./g, '.');
  const known = FIELDS[path] ?? FIELDS[path.split('.')[0] ?? ''];
  if (!known) return { message };
  return { message: `${known.label}: ${m[2]}`, field: known.name };
}

/** Focuses the form field named `name`, if the form has one. */
export function focusField(form: HTMLFormElement | null, name: string | undefined): void {
  if (!form || !name) return;
  const el = form.elements.namedItem(name);
  if (el instanceof HTMLElement) el.focus();
}

/** The per-model timeouts, in seconds; empty means the default, which the placeholders show. */
export function TimeoutFields({
  timeouts,
  reasoning,
  invalid,
}: {
  timeouts: ModelTimeouts | null;
  reasoning: boolean;
  invalid?: string | undefined;
}) {
  const hintId = useId();
  const d = TIMEOUT_DEFAULTS_S;
  const firstDefault = reasoning ? d.reasoningFirstToken : d.firstToken;
  const field = (name: string, label: string, value: number | undefined, fallback: number) => (
    <label className="field">
      <span>{label}</span>
      <input
        name={name}
        type="number"
        inputMode="decimal"
        min={MIN_S}
        max={MAX_S}
        step="any"
        defaultValue={msToSeconds(value)}
        placeholder={`${fallback} (default)`}
        aria-describedby={hintId}
        aria-invalid={invalid === name || undefined}
      />
    </label>
  );
  return (
    <fieldset className="field timeouts span-all">
      <legend>Timeouts (seconds)</legend>
      {field('connectS', 'Connect timeout (s)', timeouts?.connectMs, d.connect)}
      {field('firstTokenS', 'First-token timeout (s)', timeouts?.firstTokenMs, firstDefault)}
      {field('stallS', 'Stall timeout (s)', timeouts?.stallMs, d.stall)}
      <span className="hint" id={hintId}>
        Empty uses the default: connect {d.connect} s, first token {d.firstToken} s ({d.reasoningFirstToken} s
        for reasoning models, more for very long prompts), stall {d.stall} s between chunks. From {MIN_S} to{' '}
        {MAX_S} s.
      </span>
    </fieldset>
  );
}

/**
 * What a tier does, under the Tier field. The engine only compares tiers (Automatic prefers a
 * backup of the same tier, then one below, then one above), so a tier means something only on
 * the scale the other models use: the built-in catalog's 1 to 5. The API takes 0 to 100, which
 * existing configurations may use, so the field accepts that range too.
 */
const TIER_HINT =
  'Automatic fallback prefers a backup of the same tier, then one below, then one above. Use the built-in ' +
  "catalog's scale: 1 tiny, 2 small, 3 mid, 4 strong, 5 frontier (0 to 100 accepted).";

/** The numeric facts both model forms edit, with the bounds the API checks. */
const NUMBER_FACTS: Record<
  'tier' | 'contextWindow' | 'maxOutputTokens',
  { label: string; min: number; max: number; hint?: string }
> = {
  tier: { label: 'Tier (quality rank)', min: 0, max: 100, hint: TIER_HINT },
  contextWindow: { label: 'Context window (tokens)', min: 1, max: 100_000_000 },
  maxOutputTokens: { label: 'Max output tokens', min: 1, max: 10_000_000 },
};

/** One numeric fact of a model as a labelled number field; `invalid` marks the field a refusal named. */
export function NumberFact({
  name,
  invalid,
  ...input
}: {
  name: keyof typeof NUMBER_FACTS;
  invalid: true | undefined;
  defaultValue?: number | string;
  placeholder?: string;
  required?: boolean;
}) {
  const f = NUMBER_FACTS[name];
  // Unique per form: the Add and the Edit form can both be on the page.
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <label className="field">
      {/* Named by this span alone: the hint, inside the label too, is its description. */}
      <span id={`${id}-label`}>{f.label}</span>
      <input
        name={name}
        aria-labelledby={`${id}-label`}
        type="number"
        min={f.min}
        max={f.max}
        aria-invalid={invalid}
        aria-describedby={f.hint ? hintId : undefined}
        {...input}
      />
      {f.hint && (
        <span className="hint" id={hintId}>
          {f.hint}
        </span>
      )}
    </label>
  );
}
