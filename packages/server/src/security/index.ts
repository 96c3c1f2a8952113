/** Security primitives: password hashing, secret encryption, tokens, SSRF checks. */
export { hashPassword, verifyPassword, DUMMY_HASH } from './passwords.js';
export {
  createSecretBox,
  loadSecretKey,
  olderSecretKeys,
  SealedWithAnotherSecret,
  type SecretBox,
} from './secret-box.js';
export {
  openHeaders,
  readableHeaders,
  readableKey,
  sealHeaders,
  type ProviderHeaders,
} from './provider-headers.js';
export { randomToken, tokenHash } from './tokens.js';
export { checkProviderUrl, classifyAddress, guardedLookup, type Lookup, type UrlVerdict } from './ssrf.js';
export { createProviderNetwork, type ProviderAgent, type ProviderNetwork } from './provider-network.js';
