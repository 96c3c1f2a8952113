/** Secret removal for anything that may reach a log, an error message or a tooltip. */

const PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{8,}/g, // OpenAI / Anthropic style keys
  /\bAIza[0-9A-Za-z_-]{20,}/g, // Google API keys
  /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /([?&](?:key|api[-_]?key|token)=)[^&\s"']+/gi,
];

/** Returns `text` with the given secrets and anything shaped like an API key replaced by `[redacted]`. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  for (const re of PATTERNS) {
    out = out.replace(re, (_m, p1: unknown) =>
      typeof p1 === 'string' && p1.length > 0
        ? `${p1}${p1.endsWith('=') ? '' : ' '}[redacted]`
        : '[redacted]',
    );
  }
  return out;
}
