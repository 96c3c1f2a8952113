/** HTTP edge helpers: typed errors, validation, cookies. */
export * from './errors.js';
export { parse, describeIssues, IdParams } from './validate.js';
export { parseCookies, serializeCookie } from './cookies.js';
