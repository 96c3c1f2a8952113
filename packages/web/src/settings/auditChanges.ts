/**
 * An audit entry's old → new as readable lines, kept free of JSX so a plain Node test can check it.
 * Only what the API returned is shown: when both sides are objects, one line per changed key
 * ("fallback.mode: automatic → specific", nested objects by dotted path); when one side is absent
 * (a creation or a removal), the other side's keys and values; plain values as they are. A few
 * actions whose old → new says little on its own read as a sentence instead (a key replaced: the
 * same "has a key" on both sides; an invitation accepted).
 */

/**
 * One line of a change: a key (absent for a plain value) and its old and/or new value, as text;
 * or a `note`, a sentence on its own.
 */
export interface ChangeLine {
  key?: string;
  old?: string;
  new?: string;
  note?: string;
}

/**
 * The change as the audit log shows it. `side` says which side a one-sided change shows;
 * 'summary' is a change told in words (its lines start with a note), neither old nor new.
 */
export interface AuditChange {
  side: 'both' | 'old' | 'new' | 'none' | 'summary';
  lines: ChangeLine[];
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === null || v === undefined;

/** A value as text: strings as they are, lists comma-separated, "—" for nothing, JSON for the rest. */
export function valueText(v: unknown): string {
  if (absent(v)) return '—';
  if (typeof v === 'string') return v === '' ? '""' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '(empty list)';
    if (v.every((x) => absent(x) || ['string', 'number', 'boolean'].includes(typeof x)))
      return v.map(valueText).join(', ');
  }
  if (isPlain(v) && Object.keys(v).length === 0) return '{}';
  return JSON.stringify(v);
}

/** An object's leaves by dotted path, in the object's own key order (nested plain objects are opened). */
function leaves(o: Plain, prefix = ''): [string, unknown][] {
  return Object.entries(o).flatMap(([k, v]): [string, unknown][] =>
    isPlain(v) && Object.keys(v).length > 0 ? leaves(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v]],
  );
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A provider key rotation records only whether a key is set ({hasKey} on each side: true → true
 * for a replacement, which lists as no change). The log holds no key material, not even its last
 * characters, so the sentence is all there is to show.
 */
function keyChange(oldValue: unknown, newValue: unknown): AuditChange | undefined {
  if (!isPlain(oldValue) || !isPlain(newValue)) return undefined;
  const [had, has] = [oldValue.hasKey === true, newValue.hasKey === true];
  const note = had && has ? 'API key replaced' : has ? 'API key set' : had ? 'API key removed' : undefined;
  return note ? { side: 'summary', lines: [{ note }] } : { side: 'both', lines: [] };
}

/** An accepted invitation: who joined, as what. */
function accepted(_old: unknown, newValue: unknown): AuditChange | undefined {
  if (!isPlain(newValue) || typeof newValue.role !== 'string') return undefined;
  const rest = Object.entries(newValue).filter(([k]) => k !== 'role');
  return {
    side: 'summary',
    lines: [{ note: `Joined as ${newValue.role}` }, ...rest.map(([key, v]) => ({ key, new: valueText(v) }))],
  };
}

/** Actions told in words; any entry they do not recognise falls back to the generic lines. */
const SUMMARIES = new Map<string, (oldValue: unknown, newValue: unknown) => AuditChange | undefined>([
  ['provider.rotate_key', keyChange],
  ['invitation.accept', accepted],
]);

/**
 * An entry's old → new as lines: per changed key for two objects, per key for a one-sided object;
 * in words for the actions above when `action` is given.
 */
export function auditChange(oldValue: unknown, newValue: unknown, action?: string): AuditChange {
  const summary = action === undefined ? undefined : SUMMARIES.get(action)?.(oldValue, newValue);
  if (summary) return summary;
  if (absent(oldValue) && absent(newValue)) return { side: 'none', lines: [] };
  if (isPlain(oldValue) && isPlain(newValue)) {
    const before = new Map(leaves(oldValue));
    const after = new Map(leaves(newValue));
    const keys = [...new Set([...before.keys(), ...after.keys()])];
    const lines = keys
      .filter((k) => !same(before.get(k), after.get(k)))
      .map((k) => ({ key: k, old: valueText(before.get(k)), new: valueText(after.get(k)) }));
    return { side: 'both', lines };
  }
  const oneSided = (v: unknown, side: 'old' | 'new'): AuditChange => ({
    side,
    lines: isPlain(v)
      ? leaves(v).map(([key, x]) => ({ key, [side]: valueText(x) }))
      : [{ [side]: valueText(v) }],
  });
  if (absent(oldValue)) return oneSided(newValue, 'new');
  if (absent(newValue)) return oneSided(oldValue, 'old');
  return { side: 'both', lines: [{ old: valueText(oldValue), new: valueText(newValue) }] };
}

/** What the "What" column says an entry is about, and the id kept for a tooltip when a label is shown. */
export interface AuditTarget {
  text: string | null;
  title?: string;
}

/**
 * An entry's target as a reader knows it: its label (a member's name, the organization's name);
 * without one, an organization-level entry says "this organization" (its id says nothing), any
 * other its id (a provider's or model's id is the name admins gave it).
 */
export function auditTarget(e: {
  targetType: string;
  targetId: string | null;
  targetLabel: string | null;
}): AuditTarget {
  if (e.targetLabel) return e.targetId ? { text: e.targetLabel, title: e.targetId } : { text: e.targetLabel };
  if (e.targetType === 'organization' || e.targetType === 'settings')
    return e.targetId ? { text: 'this organization', title: e.targetId } : { text: null };
  return { text: e.targetId };
}
