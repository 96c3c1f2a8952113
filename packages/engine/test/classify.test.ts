import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyNetworkError,
  classifyUpstream,
  parseRetryAfter,
  reasonFor,
  timeoutError,
} from '../src/classify.js';
import { isFallbackReason } from '../src/errors.js';
import { redact } from '../src/redact.js';

describe('classification: the SPEC §2.1 table', () => {
  const rows: [string, Parameters<typeof reasonFor>[0], string][] = [
    ['429', { status: 429 }, 'rate_limited'],
    ['rate-limit error event', { type: 'rate_limit_error', inStream: true }, 'rate_limited'],
    ['Gemini RESOURCE_EXHAUSTED', { status: 429, type: 'RESOURCE_EXHAUSTED' }, 'rate_limited'],
    [
      'OpenAI insufficient_quota (billing, sent as 429)',
      { status: 429, code: 'insufficient_quota' },
      'provider_misconfigured',
    ],
    ['529', { status: 529 }, 'overloaded'],
    ['Anthropic overloaded_error', { status: 529, type: 'overloaded_error' }, 'overloaded'],
    ['overloaded error event', { type: 'overloaded_error', inStream: true }, 'overloaded'],
    [
      'Gemini 503 model overloaded',
      { status: 503, type: 'UNAVAILABLE', message: 'The model is overloaded.' },
      'overloaded',
    ],
    ['500', { status: 500 }, 'provider_error'],
    ['502', { status: 502 }, 'provider_error'],
    ['503', { status: 503 }, 'provider_error'],
    ['504', { status: 504 }, 'provider_error'],
    ['Gemini 504 DEADLINE_EXCEEDED', { status: 504, type: 'DEADLINE_EXCEEDED' }, 'provider_error'],
    ['server-error event', { type: 'api_error', inStream: true }, 'provider_error'],
    ['error event with no type', { inStream: true, message: 'boom' }, 'provider_error'],
    ['401', { status: 401 }, 'provider_misconfigured'],
    ['402', { status: 402 }, 'provider_misconfigured'],
    ['403', { status: 403 }, 'provider_misconfigured'],
    ['404 model', { status: 404, message: 'model not found' }, 'provider_misconfigured'],
    [
      'Gemini invalid key (400)',
      { status: 400, type: 'INVALID_ARGUMENT', message: 'API key not valid. API_KEY_INVALID' },
      'provider_misconfigured',
    ],
    ['context_length_exceeded', { status: 400, code: 'context_length_exceeded' }, 'context_too_long'],
    [
      'Anthropic prompt too long',
      {
        status: 400,
        type: 'invalid_request_error',
        message: 'prompt is too long: 210000 tokens > 200000 maximum',
      },
      'context_too_long',
    ],
    [
      'Gemini input token count',
      {
        status: 400,
        type: 'INVALID_ARGUMENT',
        message: 'The input token count (9999) exceeds the maximum number of tokens allowed (8192).',
      },
      'context_too_long',
    ],
    [
      'other 400',
      { status: 400, type: 'invalid_request_error', message: 'temperature must be <= 2' },
      'bad_request',
    ],
    [
      'content policy 400',
      { status: 400, code: 'content_policy_violation', message: 'rejected by our safety system' },
      'content_filtered',
    ],
    [
      'Anthropic content filtering',
      { status: 400, type: 'invalid_request_error', message: 'Output blocked by content filtering policy' },
      'content_filtered',
    ],
  ];
  for (const [name, f, reason] of rows) {
    it(`${name} → ${reason}`, () => assert.equal(reasonFor(f), reason));
  }

  it('only "primary unavailable" reasons fall back', () => {
    assert.equal(isFallbackReason('overloaded'), true);
    assert.equal(isFallbackReason('context_too_long'), true);
    assert.equal(isFallbackReason('bad_request'), false);
    assert.equal(isFallbackReason('content_filtered'), false);
    assert.equal(isFallbackReason('cancelled'), false);
  });
});

describe('classification: details', () => {
  it('parses Retry-After as seconds, HTTP date and retry-after-ms', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter('0.5'), 500);
    assert.equal(parseRetryAfter(null, '1234'), 1234);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', undefined, now), 7000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('carries status, code and Retry-After, and removes the key from the message', () => {
    const e = classifyUpstream(
      {
        status: 429,
        type: 'rate_limit_error',
        message: 'slow down, key sk-live-abcdefgh12345678 and XYZSECRET',
        retryAfter: '3',
      },
      ['XYZSECRET'],
    );
    assert.equal(e.reason, 'rate_limited');
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterMs, 3000);
    assert.equal(e.code, 'rate_limit_error');
    assert.doesNotMatch(e.message, /sk-live|XYZSECRET/);
  });

  it('says the status once when the body has no message', () => {
    assert.equal(classifyUpstream({ status: 403 }).message, 'HTTP 403');
    assert.equal(classifyUpstream({ status: 403, message: '  ' }).message, 'HTTP 403');
    assert.equal(classifyUpstream({ status: 403, message: 'key revoked' }).message, 'HTTP 403: key revoked');
    assert.equal(classifyUpstream({ message: 'boom', inStream: true }).message, 'boom');
    assert.equal(classifyUpstream({ inStream: true }).message, 'provider error');
  });

  it('network errors: reset before response may be retried; after headers it is an interruption', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const before = classifyNetworkError(reset, false);
    assert.equal(before.reason, 'unreachable');
    assert.equal(before.beforeResponse, true);
    const refused = classifyNetworkError(
      new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
      false,
    );
    assert.equal(refused.reason, 'unreachable');
    assert.equal(refused.beforeResponse, undefined, 'a refused connection is no blip');
    assert.equal(classifyNetworkError(reset, true).reason, 'interrupted');
  });

  it('network errors read as words, not Node or undici codes; unknown codes keep theirs', () => {
    const closed = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    assert.equal(classifyNetworkError(closed, true).message, 'the connection was closed');
    assert.equal(classifyNetworkError(closed, true).code, 'UND_ERR_SOCKET', 'the code stays for logs');
    const refused = new Error('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    assert.equal(classifyNetworkError(refused, false).message, 'the connection was refused');
    const cert = Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' });
    assert.equal(classifyNetworkError(cert, false).message, 'CERT_HAS_EXPIRED: certificate has expired');
  });

  it('timeouts: connect and first token are timeouts, a stall mid-answer is an interruption', () => {
    assert.equal(timeoutError('connect', 5000).reason, 'timeout');
    assert.equal(timeoutError('first_token', 10000).reason, 'timeout');
    assert.equal(timeoutError('stall', 15000).reason, 'interrupted');
  });

  it('redacts key-shaped strings', () => {
    const out = redact(
      'Bearer abcdefghijklmnop https://x/y?key=AIzaSyA1234567890123456789012 sk-ant-api03-xyzxyzxyz',
    );
    assert.doesNotMatch(out, /abcdefghijklmnop|AIzaSy|sk-ant/);
  });
});
