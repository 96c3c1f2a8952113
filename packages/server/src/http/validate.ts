/** Input validation at the edge: zod schemas, with errors that name the field and what to fix. */
import { z } from 'zod';
import { badRequest } from './errors.js';

/** Formats zod issues as `where: what` lines, naming unknown fields. */
export function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .map((i) => {
      const path = [where, ...i.path.map(String)].join('.');
      if (i.code === 'unrecognized_keys')
        return `${path}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

/** Parses `value` with `schema` or throws a 400 that says what is wrong. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where = 'body'): z.infer<S> {
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!r.success) {
    // A JSON `null` is no body either ("expected object, received undefined" said nothing useful).
    if (value == null && where === 'body') throw badRequest('a JSON body is required');
    throw badRequest(describeIssues(r.error, where), 'invalid_input');
  }
  return r.data;
}

/** An id path parameter. */
export const IdParams = z.strictObject({ id: z.string().min(1).max(100) });
