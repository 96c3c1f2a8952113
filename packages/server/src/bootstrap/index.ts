/** Start-up provisioning: environment providers, the bootstrap file, the demo, first-run setup. */
export { readBootstrapFile, BootstrapFile } from './config-file.js';
export { bootstrapAtStart, provisionOrganization, type ProvisionDeps } from './apply.js';
export { checkBootstrapUrls, checkEnvironmentUrls } from './urls.js';
export { hasRealProviders } from './sources.js';
export { runsDemo } from './demo-auto.js';
