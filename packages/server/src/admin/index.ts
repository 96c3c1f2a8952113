/** The admin API (Owners and Admins): providers, models, settings, members, API keys, audit, activity, status. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';
import { registerMemberRoutes } from './members.js';
import { registerModelRoutes } from './models.js';
import { registerProviderRoutes } from './providers.js';
import { registerSettingsRoutes } from './settings.js';
import { registerStatusRoutes } from './status.js';

/** Registers every admin route. */
export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerMemberRoutes(app, ctx);
  registerProviderRoutes(app, ctx);
  registerModelRoutes(app, ctx);
  registerSettingsRoutes(app, ctx);
  registerStatusRoutes(app, ctx);
}

export { upsertModel, modelView } from './models.js';
export { providerView, Slug } from './providers.js';
export { checkSettings, fallbackChoices, settingsRefusal, type SettingsRefusal } from './settings-rules.js';
export { fallbackView } from './settings.js';
