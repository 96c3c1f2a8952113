/** Authentication and authorization: sessions, CSRF, roles, API keys, and the auth routes. */
export { installGuard, principalOf, userOf, apiKeyPrincipal } from './guard.js';
export { ApiKeyCache, type KeyPrincipal } from './api-keys.js';
export { registerAuthRoutes } from './routes.js';
export { ANY_MEMBER, MANAGERS, OWNERS, PUBLIC, API_KEY, type Access, type Principal } from './principal.js';
