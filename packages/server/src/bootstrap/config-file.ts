/**
 * The bootstrap file (`UNDERSTUDY_CONFIG`, YAML or JSON): providers, models, the organization's
 * settings, a first admin and API keys. `${VAR}` and `${VAR:-default}` are replaced from the
 * environment so secrets stay out of the file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeIssues } from '../http/index.js';

const Slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'use lowercase letters, digits, ".", "_" or "-"');
const Capability = z.enum(['vision', 'tools', 'json', 'prefill', 'reasoning']);

const ProviderEntry = z.strictObject({
  id: Slug,
  type: z.enum(['openai', 'azure-openai', 'anthropic', 'google', 'openai-compatible']),
  label: z.string().min(1).max(100).optional(),
  baseUrl: z.string().min(1).optional(),
  apiKey: z.string().optional(),
  apiVersion: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Loopback/private base URL allowed (Ollama, vLLM on the local network). */
  allowPrivate: z.boolean().optional(),
});

const ModelEntry = z.strictObject({
  id: Slug,
  provider: Slug,
  upstream: z.string().min(1).optional(),
  label: z.string().min(1).max(100).optional(),
  tier: z.number().int().min(0).max(100).optional(),
  contextWindow: z.number().int().positive().optional(),
  maxOutputTokens: z.number().int().positive().optional(),
  capabilities: z.array(Capability).optional(),
  tags: z.array(z.string().min(1)).optional(),
  timeouts: z
    .strictObject({
      connectMs: z.number().int().positive().optional(),
      firstTokenMs: z.number().int().positive().optional(),
      stallMs: z.number().int().positive().optional(),
    })
    .optional(),
  enabled: z.boolean().optional(),
});

const Fallback = z.union([
  z.enum(['automatic', 'none']),
  z.discriminatedUnion('mode', [
    z.strictObject({ mode: z.literal('automatic') }),
    z.strictObject({ mode: z.literal('none') }),
    z.strictObject({ mode: z.literal('specific'), model: Slug }),
  ]),
]);

/** A list of the file: `models:` with nothing under it (YAML's null) is an empty list, as left out is. */
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

/** The bootstrap file's schema. */
export const BootstrapFile = z.strictObject({
  organization: z
    .strictObject({
      name: z.string().min(1).max(100),
      defaultModel: Slug.optional(),
      fallback: Fallback.optional(),
    })
    .optional(),
  admin: z
    .strictObject({
      email: z.string().email(),
      name: z.string().min(1).max(100).optional(),
      password: z.string().min(10, 'must be at least 10 characters'),
    })
    .optional(),
  providers: list(ProviderEntry),
  models: list(ModelEntry),
  apiKeys: list(
    z.strictObject({
      name: z.string().min(1).max(100),
      key: z
        .string()
        .regex(/^us-[A-Za-z0-9_-]{20,}$/, 'must look like us-<at least 20 letters, digits, "-" or "_">'),
    }),
  )
    // A key's name says which key a new value replaces (the old one is revoked).
    .superRefine((keys, ctx) => {
      const seen = new Set<string>();
      for (const [i, k] of keys.entries()) {
        if (seen.has(k.name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${k.name}" is named twice` });
        seen.add(k.name);
      }
    }),
});

/** A parsed bootstrap file. */
export type BootstrapFile = z.infer<typeof BootstrapFile>;

/** Replaces `${VAR}` / `${VAR:-default}` in every string; a missing variable without default is an error. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_m, name: string, def: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        throw new Error(`${path}: environment variable ${name} is not set`);
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, env, `${path}.${k}`)]),
    );
  }
  return value;
}

/** Reads and validates a bootstrap file; throws an Error that says what to fix. */
export function readBootstrapFile(file: string, env: NodeJS.ProcessEnv = process.env): BootstrapFile {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = file.endsWith('.json') ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
  } catch (err) {
    throw new Error(
      `UNDERSTUDY_CONFIG ${file}: cannot read it (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const resolved = interpolate(raw ?? {}, env, 'config');
  const r = BootstrapFile.safeParse(resolved);
  if (!r.success) throw new Error(`UNDERSTUDY_CONFIG ${file}: ${describeIssues(r.error, 'config')}`);
  return r.data;
}
