/**
 * The Temporal server is real: the orchestrator's worker (workflows bundled from workflows/,
 * activities from activities/) runs the healthCheck workflow, whose activity reads the
 * management cluster's version.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createWorker } from '../../src/temporal/worker.js';
import { healthCheck } from '../../workflows/index.js';
import { stackEnv, uniqueName } from './stack-env.js';

it('runs the healthCheck workflow and its activity through the worker', async () => {
  const env = stackEnv();
  const management = new KubeConfig();
  management.loadFromFile(env.MANAGEMENT_KUBECONFIG);
  const taskQueue = uniqueName('smoke');
  const nativeConnection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const worker = await createWorker({
      connection: nativeConnection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue,
      deps: {
        management,
        log: createLogger({ level: 'silent' }),
        instance: 'smoke-test',
        metrics: createMetrics({ defaultMetrics: false }),
        temporal: { client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }), taskQueue },
      },
    });
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
    const workflowId = uniqueName('health');
    const report = await worker.runUntil(client.workflow.execute(healthCheck, { taskQueue, workflowId }));
    expect(report.managementCluster).toEqual({
      gitVersion: 'v1.34.4',
      server: management.getCurrentCluster()?.server,
    });
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const completed = (history.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes);
    expect(completed).toHaveLength(1);
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
});
