/**
 * Kubernetes Events about the orchestrator's own resources (`kubectl describe` shows them): one
 * writer, so every Event has the same source, reporting component and instance.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { API_VERSION, kindInfo, type ResourceRef } from '../api/kinds.js';
import type { Logger } from '../logger.js';
import { kubeErrorText } from './errors.js';

/** One Event: `Normal` or `Warning`, a CamelCase reason, a message (cut to 1,024 characters). */
export interface ResourceEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Writes `event` about `ref`; a failure is logged, never thrown (an Event is not worth a retry). */
export async function recordEvent(
  core: CoreV1Api,
  ref: ResourceRef,
  event: ResourceEvent,
  instance: string,
  log: Logger,
): Promise<void> {
  const { group } = kindInfo(ref.kind);
  const now = new Date().toISOString();
  await core
    .createNamespacedEvent({
      namespace: ref.namespace,
      body: {
        metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
        involvedObject: {
          apiVersion: `${group}/${API_VERSION}`,
          kind: ref.kind,
          name: ref.name,
          namespace: ref.namespace,
          uid: ref.uid,
        },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        firstTimestamp: now as unknown as Date,
        lastTimestamp: now as unknown as Date,
        count: 1,
        source: { component: 'resiliency-orchestrator' },
        reportingComponent: 'resiliency-orchestrator',
        reportingInstance: instance,
      },
    })
    .catch((err) => log.warn({ err: kubeErrorText(err), ref }, 'error creating event'));
}
