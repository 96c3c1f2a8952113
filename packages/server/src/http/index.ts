/** HTTP edge helpers: typed errors, validation, cookies, event-stream responses, JSON depth, the drain. */
export * from './errors.js';
export { parse, describeIssues, IdParams, cursorParam, pageCursor } from './validate.js';
export { parseCookies, serializeCookie } from './cookies.js';
export { CLIENT_STALL_MS, SSE_HEADERS, drained } from './stream.js';
export { lazyChildLogger } from './lazy-logger.js';
export { frameworkClientError } from './refused-body.js';
export { jsonTextNestsDeeperThan, nestsDeeperThan, TOO_DEEP } from './json-depth.js';
export { databaseUnavailable } from './database-unavailable.js';
export { frameworkErrors, installApiHeaders } from './api-headers.js';
export { installDrain, refuseDrained, type Drain } from './drain.js';
