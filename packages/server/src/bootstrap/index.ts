/** Start-up provisioning: environment providers, the bootstrap file, the demo, first-run setup. */
export { readBootstrapFile, BootstrapFile } from './config-file.js';
export {
  bootstrapAtStart,
  checkBootstrapUrls,
  checkEnvironmentUrls,
  provisionOrganization,
  type ProvisionDeps,
} from './apply.js';
export { hasRealProviders } from './sources.js';
export { runsDemo } from './demo-auto.js';
