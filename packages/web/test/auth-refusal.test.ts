// The sign-in, setup and invitation forms say every refusal as a sentence: too many attempts (429)
// with the wait in minutes, any other as the server's message with a capital and a full stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../src/api/client.js';
import { authRefusal } from '../src/auth/refusal.js';

const throttled = (retryAfterSeconds?: number) =>
  new ApiError(429, 'too_many_attempts', 'too many failed sign-ins for this account', retryAfterSeconds);

test('a 429 reads as a sentence with the wait in minutes, from Retry-After', () => {
  assert.equal(authRefusal(throttled(60)), 'Too many attempts. Try again in 1 minute.');
  assert.equal(authRefusal(throttled(61)), 'Too many attempts. Try again in 2 minutes.');
  assert.equal(authRefusal(throttled(3600)), 'Too many attempts. Try again in 60 minutes.');
  assert.equal(authRefusal(throttled(5)), 'Too many attempts. Try again in 1 minute.');
  assert.equal(authRefusal(throttled()), 'Too many attempts. Try again in 1 minute.', 'no Retry-After');
});

test('other refusals are the server message as a sentence: a capital, a full stop', () => {
  assert.equal(
    authRefusal(new ApiError(401, 'unauthorized', 'wrong email or password')),
    'Wrong email or password.',
  );
  assert.equal(authRefusal(new ApiError(409, 'conflict', 'setup is already done')), 'Setup is already done.');
  assert.equal(
    authRefusal(new ApiError(400, 'bad_request', 'invitation already used')),
    'Invitation already used.',
  );
  assert.equal(authRefusal(new Error('Failed to fetch')), 'Failed to fetch.');
  assert.equal(authRefusal(new Error('Already a sentence.')), 'Already a sentence.', 'no second full stop');
  assert.equal(authRefusal('offline'), 'Offline.', 'a thrown non-Error');
});
