/**
 * Every workflow the worker serves. This folder is bundled into Temporal's deterministic
 * sandbox: no Node built-ins, no I/O libraries (ESLint and a bundling test enforce it).
 */
export { healthCheck, type HealthReport } from './health.js';
