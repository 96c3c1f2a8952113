/**
 * The operator's provider URLs (the bootstrap file's, the environment's), checked against the SSRF
 * rule before anything starts: a refusal stops the start with the setting to fix, instead of
 * failing first-run setup after its organization and Owner exist.
 */
import { DEFAULT_BASE_URLS } from '../catalog/index.js';
import type { ServerConfig } from '../config.js';
import { checkProviderUrl } from '../security/index.js';
import type { BootstrapFile } from './config-file.js';
import { envCatalog } from './sources.js';

/**
 * Refuses an operator-declared URL as the SSRF rule does (metadata and link-local always; private
 * addresses unless allowed) but accepts a name that does not resolve here (an offline install);
 * the error starts with `where`.
 */
export async function checkOperatorUrl(
  url: string,
  allowPrivate: boolean | undefined,
  config: Pick<ServerConfig, 'allowPrivateProviderUrls'>,
  where: string,
): Promise<void> {
  const v = await checkProviderUrl(url, {
    allowPrivate: (allowPrivate ?? false) || config.allowPrivateProviderUrls,
    allowUnresolved: true,
  });
  if (!v.ok) throw new Error(`${where}: ${v.message}`);
}

/** Checks every provider URL of the bootstrap file before anything starts (a refusal stops the start). */
export async function checkBootstrapUrls(file: BootstrapFile, config: ServerConfig): Promise<void> {
  for (const p of file.providers) {
    const url = p.baseUrl ?? DEFAULT_BASE_URLS[p.type];
    if (!url) throw new Error(`UNDERSTUDY_CONFIG: provider ${p.id} needs a baseUrl for type ${p.type}`);
    await checkOperatorUrl(url, p.allowPrivate, config, `UNDERSTUDY_CONFIG: provider ${p.id}`);
  }
}

/** The variable that sets an environment provider's URL (the others use their vendor's). */
const URL_VARIABLES: Record<string, string> = { openai: 'OPENAI_BASE_URL', ollama: 'OLLAMA_BASE_URL' };

/** Checks the URLs of the environment's providers before anything starts, as checkBootstrapUrls does the file's. */
export async function checkEnvironmentUrls(config: ServerConfig): Promise<void> {
  for (const p of envCatalog(config).providers) {
    const where = `${URL_VARIABLES[p.slug] ?? 'the environment'} (provider ${p.slug})`;
    await checkOperatorUrl(p.baseUrl, p.allowPrivate, config, where);
  }
}
