/**
 * Replication from an older Kubernetes: the replication scenarios of live-sync.test.ts,
 * live-sync-entries.test.ts and synchronizations.test.ts (the one-shot copy), with the stack's
 * `source-v129` cluster (kube-apiserver 1.29.15) as the source and the 1.34.4 destination.
 */
import { liveSyncEntriesScenario } from './live-sync-entries.scenario.js';
import { liveSyncScenario } from './live-sync.scenario.js';
import { oneShotCopyScenario } from './one-shot-copy.scenario.js';
import { sourceCluster } from './stack-env.js';

const source = sourceCluster('source-v129');

liveSyncScenario(source);
liveSyncEntriesScenario(source);
oneShotCopyScenario(source);
