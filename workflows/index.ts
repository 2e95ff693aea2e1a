/**
 * Every workflow the worker serves. This folder is bundled into Temporal's deterministic
 * sandbox: no Node built-ins, no I/O libraries (ESLint and a bundling test enforce it).
 */
export { healthCheck, type HealthReport } from './health.js';
export { assetWorkflow } from './assets.js';
export { liveSynchronizationWorkflow, taskWorkflow } from './configured.js';
export { synchronizationPlanWorkflow, synchronizationPlanFiringWorkflow } from './plans.js';
export { synchronizationWorkflow, backupWorkflow, taskRunWorkflow } from './run-once.js';
export { specSignal, statusQuery } from './resource.js';
