/** The sample 6.1.3 scenario (live-sync-entries.scenario.ts) from the 1.34 source to the 1.34 destination. */
import { liveSyncEntriesScenario } from './live-sync-entries.scenario.js';
import { sourceCluster } from './stack-env.js';

liveSyncEntriesScenario(sourceCluster('source'));
