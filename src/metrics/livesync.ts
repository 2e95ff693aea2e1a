/**
 * The metrics of one LiveSynchronization's replication: turns the engine's events into counter and
 * histogram updates, and its per-namespace counts into the `livesync_objects` gauges. Label
 * children are resolved once per (type, object namespace) and reused, so the live path pays a map
 * lookup and an addition per event.
 */
import type { GVR } from '../bucket/layout.js';
import type {
  NamespaceCounts,
  ReplicationEvent,
} from '../plugins/kubernetes-objects-to-kubernetes/engine.js';
import { apiGroupLabel, objectNamespaceLabel, type ObservabilitySettings } from './labels.js';
import type { Metrics } from './metrics.js';

/** The states of `livesync_objects`, by the counter of {@link NamespaceCounts} they come from. */
const STATES = { inSync: 'in_sync', pending: 'pending', failed: 'failed' } as const;

/** Records one LiveSynchronization's replication; see {@link liveSyncRecorder}. */
export interface LiveSyncRecorder {
  /** An engine event of type `gvr`. */
  event(gvr: GVR, event: ReplicationEvent): void;
  /** Sets the object gauges from fresh counts; series no longer counted are removed. */
  objectCounts(counts: { gvr: GVR; counts: NamespaceCounts[] }[]): void;
  /** Records a resync that listed and converged. */
  resynced(at: Date): void;
  /** Removes this LiveSynchronization's gauges (it was deleted, suspended or changed). */
  forget(): void;
}

type Labels = Record<string, string>;

/** Builds the recorder of the LiveSynchronization `owner`, with its `observability` settings. */
export function liveSyncRecorder(
  metrics: Metrics,
  owner: { namespace: string; name: string },
  settings: ObservabilitySettings,
): LiveSyncRecorder {
  const m = metrics.liveSync;
  const base = (gvr: GVR, namespace: string): Labels => ({
    namespace: owner.namespace,
    name: owner.name,
    object_namespace: objectNamespaceLabel(namespace, settings.perNamespace),
    group: apiGroupLabel(gvr.group),
    resource: gvr.resource,
  });
  const children = new Map<string, { inc(): void } | { observe(v: number): void }>();
  /** The label child of `metric` for these labels, resolved once. */
  const child = <C>(metric: { labels(l: Labels): C }, id: string, labels: () => Labels): C => {
    let c = children.get(id) as C | undefined;
    if (!c) children.set(id, (c = metric.labels(labels()) as never));
    return c;
  };
  const ownerSeries = metrics.liveSyncGaugeSeries;
  const ownerKey = `${owner.namespace}/${owner.name}`;

  return {
    event(gvr, e) {
      const ns = settings.perNamespace ? e.namespace : '';
      const id = `${gvr.group}/${gvr.resource}/${ns}/${e.type}`;
      const labels =
        (extra: Labels = {}) =>
        () => ({ ...base(gvr, e.namespace), ...extra });
      switch (e.type) {
        case 'write':
          child(m.writes, `${id}/${e.operation}`, labels({ operation: e.operation })).inc();
          break;
        case 'error':
          child(m.errors, `${id}/${e.reason}`, labels({ reason: e.reason })).inc();
          break;
        case 'upload':
          if (e.ok) child(m.bucketUploads, id, labels()).inc();
          else child(m.bucketUploadFailures, `${id}/failed`, labels()).inc();
          break;
        case 'lag':
          child(m.lag, id, labels()).observe(e.ms / 1000);
          break;
        case 'drift':
          child(m.drift, `${id}/${e.action}`, labels({ action: e.action })).inc();
          break;
      }
    },

    objectCounts(types) {
      const totals = new Map<string, { labels: Labels; value: number }>();
      for (const { gvr, counts } of types) {
        for (const c of counts) {
          for (const [field, state] of Object.entries(STATES)) {
            const labels = { ...base(gvr, c.namespace), state };
            const id = JSON.stringify(labels);
            const t = totals.get(id) ?? { labels, value: 0 };
            t.value += c[field as keyof typeof STATES];
            totals.set(id, t);
          }
        }
      }
      const before = ownerSeries.get(ownerKey) ?? new Map<string, Labels>();
      for (const [id, labels] of before) if (!totals.has(id)) m.objects.remove(labels);
      const now = new Map<string, Labels>();
      for (const [id, { labels, value }] of totals) {
        m.objects.set(labels, value);
        now.set(id, labels);
      }
      ownerSeries.set(ownerKey, now);
    },

    resynced(at) {
      m.lastResync.set({ namespace: owner.namespace, name: owner.name }, at.getTime() / 1000);
    },

    forget() {
      for (const labels of ownerSeries.get(ownerKey)?.values() ?? []) m.objects.remove(labels);
      ownerSeries.delete(ownerKey);
      m.lastResync.remove({ namespace: owner.namespace, name: owner.name });
    },
  };
}
