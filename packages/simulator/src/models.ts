/** Model listings (`GET /v1/models` in OpenAI or Anthropic shape, `GET /v1beta/models` for Gemini). */
import type { IncomingHttpHeaders } from 'node:http';

/** Models every provider lists even before any request named them. */
export const DEFAULT_MODELS = ['sim-alpha', 'sim-beta', 'sim-gamma'];

/** Listing body for the protocol family the client speaks (Anthropic is told apart by its header). */
export function listModels(
  family: 'openai' | 'gemini',
  names: string[],
  headers: IncomingHttpHeaders,
): unknown {
  const all = [...new Set([...DEFAULT_MODELS, ...names])];
  if (family === 'gemini') {
    const methods = ['generateContent', 'streamGenerateContent'];
    return {
      models: all.map((n) => ({ name: `models/${n}`, displayName: n, supportedGenerationMethods: methods })),
    };
  }
  if (headers['anthropic-version'] !== undefined) {
    const data = all.map((id) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: '2025-01-01T00:00:00Z',
    }));
    return { data, has_more: false, first_id: all[0] ?? null, last_id: all[all.length - 1] ?? null };
  }
  return {
    object: 'list',
    data: all.map((id) => ({ id, object: 'model', created: 1735689600, owned_by: 'simulator' })),
  };
}
