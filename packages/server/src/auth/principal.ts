/** Who is calling, and what each route allows: the one authorization path every route goes through. */
import type { Role } from '../storage/index.js';

/** The authenticated caller. */
export type Principal =
  | {
      kind: 'user';
      userId: string;
      orgId: string;
      role: Role;
      email: string;
      name: string;
      sessionHash: string;
      csrfToken: string;
    }
  | { kind: 'apiKey'; keyId: string; orgId: string };

/** A route's access rule; every route must declare one (routes without are refused). */
export type Access = { who: 'public' } | { who: 'user'; roles: readonly Role[] } | { who: 'apiKey' };

/** Any signed-in member. */
export const ANY_MEMBER: Access = { who: 'user', roles: ['owner', 'admin', 'member'] };
/** Owners and Admins: organization management. */
export const MANAGERS: Access = { who: 'user', roles: ['owner', 'admin'] };
/** Owners only. */
export const OWNERS: Access = { who: 'user', roles: ['owner'] };
/** Anyone. */
export const PUBLIC: Access = { who: 'public' };
/** An organization API key (the OpenAI-compatible API). */
export const API_KEY: Access = { who: 'apiKey' };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}
