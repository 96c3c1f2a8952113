/** Security primitives: password hashing, secret encryption, tokens, SSRF checks, private file modes. */
export { hashPassword, verifyPassword, DUMMY_HASH } from './passwords.js';
export {
  createSecretBox,
  loadSecretKey,
  olderSecretKeys,
  SealedWithAnotherSecret,
  secretKeyFile,
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
export { restrictFileModes } from './file-modes.js';
export { checkProviderUrl, classifyAddress, guardedLookup, type Lookup, type UrlVerdict } from './ssrf.js';
export { createProviderNetwork, type ProviderAgent, type ProviderNetwork } from './provider-network.js';
