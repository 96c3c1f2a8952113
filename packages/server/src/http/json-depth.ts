/**
 * How deeply free-form JSON nests. JSON.parse takes any depth, but JSON.stringify (which measures
 * and forwards a request) recurses and overflows the stack near 5000 levels, which a 10 KB body
 * reaches. No real tool schema or argument object comes near MAX_JSON_DEPTH; the checks here walk
 * without recursion, so they cannot overflow themselves.
 */

/** The deepest nesting of objects and arrays accepted in a free-form JSON field. */
export const MAX_JSON_DEPTH = 64;

/** The refusal's wording, for a field's validation message. */
export const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`;

/** True when `value` nests objects and arrays deeper than `limit` (a flat object is 1). */
export function nestsDeeperThan(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop() ?? 1;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      values.push(child);
      depths.push(depth + 1);
    }
  }
  return false;
}

/**
 * True when `text` is JSON that nests deeper than `limit` (tool call arguments and tool results
 * are JSON in strings, which provider adapters parse and send on as objects). Text that is not
 * JSON is never too deep, however many brackets it holds.
 */
export function jsonTextNestsDeeperThan(text: string, limit = MAX_JSON_DEPTH): boolean {
  // A scan of brackets outside strings first: nearly every text stops here without parsing.
  let depth = 0;
  let inString = false;
  let deeper = false;
  for (let i = 0; i < text.length && !deeper; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deeper = ++depth > limit;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  if (!deeper) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
