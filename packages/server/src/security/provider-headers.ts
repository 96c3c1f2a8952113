/**
 * A provider's custom headers as stored: sealed like its key, since an OpenAI-compatible gateway
 * often authenticates with one (`X-Api-Key`). Rows written before headers were sealed hold plain
 * JSON and are still read.
 */
import { SealedWithAnotherSecret, type SecretBox } from './secret-box.js';

/** Custom headers of a provider, by name. */
export type ProviderHeaders = Record<string, string>;

/** The stored form of `headers` (null for none). */
export function sealHeaders(box: SecretBox, headers: ProviderHeaders | null | undefined): string | null {
  return headers && Object.keys(headers).length > 0 ? box.seal(JSON.stringify(headers)) : null;
}

/** The headers of a stored row (sealed, or plain JSON from before sealing), or null for none. */
export function openHeaders(box: SecretBox, stored: string | null): ProviderHeaders | null {
  if (!stored) return null;
  const json = stored.startsWith('{') ? stored : box.open(stored);
  return JSON.parse(json) as ProviderHeaders;
}

/** What a secret that cannot be opened reads as: another instance's secret sealed it. */
function unlessSealedElsewhere<T>(open: () => T): T | undefined {
  try {
    return open();
  } catch (err) {
    if (err instanceof SealedWithAnotherSecret) return undefined;
    throw err;
  }
}

/** A provider's key: null for none, undefined when this instance's secret cannot open it. */
export function readableKey(box: SecretBox, sealed: string | null): string | null | undefined {
  return sealed === null ? null : unlessSealedElsewhere(() => box.open(sealed));
}

/** A provider's headers: null for none, undefined when this instance's secret cannot open them. */
export function readableHeaders(box: SecretBox, stored: string | null): ProviderHeaders | null | undefined {
  return unlessSealedElsewhere(() => openHeaders(box, stored));
}
