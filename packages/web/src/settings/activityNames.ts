import type { FallbackActivity } from '../api/types.js';

/**
 * Every provider the activity chart may show, in colour order: the organization's in the order they
 * were added (so adding one never recolours the others), then removed ones, known only by id,
 * sorted; and the name to show for each.
 */
export function providerOrder(known: FallbackActivity['providers'], counts: FallbackActivity['countsByDay']) {
  const labels = new Map(known.map((p) => [p.id, p.label]));
  const removed = [...new Set(counts.map((c) => c.provider))].filter((p) => !labels.has(p)).sort();
  return {
    order: [...known.map((p) => p.id), ...removed],
    nameOf: (p: string) => labels.get(p) ?? `${p} (removed)`,
  };
}

/** A model and its provider by their labels; an id no longer in the organization's lists is shown as is. */
export function modelOnProvider(
  names: FallbackActivity,
  modelId: string,
  providerId: string | null,
): { model: string; provider: string | null } {
  const label = (list: { id: string; label: string }[], id: string) =>
    list.find((x) => x.id === id)?.label ?? id;
  return {
    model: label(names.models, modelId),
    provider: providerId === null ? null : label(names.providers, providerId),
  };
}
