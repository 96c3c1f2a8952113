/** Maps a method and URL to an endpoint: a protocol, a model listing, or a control endpoint. */
import { anthropic } from './protocols/anthropic.js';
import { gemini } from './protocols/gemini.js';
import { azure, openai } from './protocols/openai.js';
import type { ProtocolAdapter } from './protocols/shared.js';

/** Provider name used when the path has no `/p/<name>` prefix. */
export const DEFAULT_PROVIDER = 'default';

/** What a request addresses. */
export type Route =
  | { kind: 'chat'; provider: string; adapter: ProtocolAdapter; pathModel?: string; pathStream?: boolean }
  | { kind: 'models'; provider: string; family: 'openai' | 'gemini' }
  | { kind: 'control'; path: string }
  | { kind: 'unknown' };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const AZURE = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/;
const GEMINI = /^\/v1(?:beta)?\/models\/([^/]+):(streamGenerateContent|generateContent)$/;

/** Routes a request; `/p/<name>` selects the provider name, control endpoints live at `/_sim/`. */
export function route(method: string, pathname: string): Route {
  let path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  let provider = DEFAULT_PROVIDER;
  const prefixed = /^\/p\/([^/]+)(\/.*)?$/.exec(path);
  if (prefixed !== null) {
    provider = decode(prefixed[1] ?? '');
    path = prefixed[2] ?? '/';
  } else if (path === '/_sim' || path.startsWith('/_sim/')) {
    return { kind: 'control', path };
  }
  if (method === 'GET') {
    if (path === '/v1/models') return { kind: 'models', provider, family: 'openai' };
    if (path === '/v1beta/models') return { kind: 'models', provider, family: 'gemini' };
    return { kind: 'unknown' };
  }
  if (method !== 'POST') return { kind: 'unknown' };
  if (path === '/v1/chat/completions' || path === '/chat/completions')
    return { kind: 'chat', provider, adapter: openai };
  if (path === '/v1/messages') return { kind: 'chat', provider, adapter: anthropic };
  const az = AZURE.exec(path);
  if (az !== null) return { kind: 'chat', provider, adapter: azure, pathModel: decode(az[1] ?? '') };
  const gm = GEMINI.exec(path);
  if (gm !== null) {
    const pathStream = gm[2] === 'streamGenerateContent';
    return { kind: 'chat', provider, adapter: gemini, pathModel: decode(gm[1] ?? ''), pathStream };
  }
  return { kind: 'unknown' };
}
