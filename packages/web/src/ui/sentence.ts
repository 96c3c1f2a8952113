/**
 * A refusal of the server (lower case, no full stop: "the organization must keep at least one
 * Owner") as a sentence shown on its own.
 */
export function asSentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
