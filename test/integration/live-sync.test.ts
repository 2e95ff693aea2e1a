/** The LiveSynchronization scenario (live-sync.scenario.ts) from the 1.34 source to the 1.34 destination. */
import { liveSyncScenario } from './live-sync.scenario.js';
import { sourceCluster } from './stack-env.js';

liveSyncScenario(sourceCluster('source'));
