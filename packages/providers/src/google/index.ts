/** Google Gemini protocol (`generativelanguage.googleapis.com`). */
import type { ProviderClient } from '@understudy/engine';
import { secretsOf, type WireProtocol } from '../protocol.js';
import { runProtocol, type RunOptions } from '../run.js';
import { googleParser } from './parse.js';
import { buildGoogleRequest, googleProbe } from './request.js';

export { buildGoogleRequest, geminiSchema, googleProbe } from './request.js';
export { googleFinish, googleParser } from './parse.js';

/** The Gemini wire protocol. */
export const googleProtocol: WireProtocol = {
  name: 'google',
  prepare: (target, request) => ({
    http: buildGoogleRequest(target, request),
    parser: googleParser(secretsOf(target.provider)),
  }),
  probe: googleProbe,
};

/** A `ProviderClient` speaking only the Gemini protocol. */
export function createGoogleAdapter(opts: RunOptions): ProviderClient {
  return { stream: (target, request, signal) => runProtocol(googleProtocol, target, request, signal, opts) };
}
