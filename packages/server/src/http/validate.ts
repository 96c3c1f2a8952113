/** Input validation at the edge: zod schemas, with errors that name the field and what to fix. */
import { z } from 'zod';
import { badRequest } from './errors.js';

/** How far into the value an alternative's issues reach (the deepest path). */
const reach = (issues: readonly z.core.$ZodIssue[]): number =>
  Math.max(0, ...issues.map((i) => i.path.length));

/** One issue as `where: what` lines; a union's, as its alternative that got furthest says. */
function describeIssue(i: z.core.$ZodIssue, at: readonly PropertyKey[]): string[] {
  const here = [...at, ...i.path];
  if (i.code === 'invalid_union' && i.errors.length > 0) {
    // "Invalid input" says nothing: a string-or-parts content given a file part should hear
    // that the part's type is not one it takes. A tie (no alternative got in) keeps the summary.
    const ranked = [...i.errors].sort((a, b) => reach(b) - reach(a));
    const [best, next] = ranked;
    if (best && reach(best) > 0 && reach(best) > (next ? reach(next) : 0))
      return best.flatMap((j) => describeIssue(j, here));
  }
  const path = here.map(String).join('.');
  if (i.code === 'unrecognized_keys')
    return [`${path}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`];
  return [`${path}: ${i.message}`];
}

/** Formats zod issues as `where: what` lines, naming unknown fields. */
export function describeIssues(error: z.ZodError, where: string): string {
  return error.issues.flatMap((i) => describeIssue(i, [where])).join('; ');
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

/**
 * Where a page of a list ends, as clients see it: the (time, id) of its last row, opaque
 * (base64url JSON). A page's `next`; sent back as `before`, read by {@link cursorParam}.
 */
export function pageCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

/** The `before` query parameter of a paged list: a {@link pageCursor} this server gave, as `{ at, id }`. */
export const cursorParam = z
  .string()
  .max(400)
  .transform((s, c) => {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    } catch {
      value = undefined;
    }
    const r = z.tuple([z.string().min(1).max(40), z.string().min(1).max(100)]).safeParse(value);
    if (r.success) return { at: r.data[0], id: r.data[1] };
    c.addIssue({ code: 'custom', message: "not a cursor this server gave (use a page's next)" });
    return z.NEVER;
  });

/** An id path parameter. */
export const IdParams = z.strictObject({ id: z.string().min(1).max(100) });
