/**
 * Custom search attributes that name the Kubernetes resource behind a workflow, so that
 * `temporal workflow list --query "AstronetesKind='LiveSynchronization' AND AstronetesName='x'"`
 * and the Temporal UI find it. The local stack registers each one at server start,
 * docker-compose.temporal.yml in a job; the orchestrator checks them at start-up
 * (src/temporal/search-attributes.ts) and stops, naming each missing one, without them.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Kind of the custom resource (LiveSynchronization, TaskRun, …). */
export const RESOURCE_KIND = defineSearchAttributeKey('AstronetesKind', SearchAttributeType.KEYWORD);
/** Namespace of the custom resource. */
export const RESOURCE_NAMESPACE = defineSearchAttributeKey(
  'AstronetesNamespace',
  SearchAttributeType.KEYWORD,
);
/** Name of the custom resource. */
export const RESOURCE_NAME = defineSearchAttributeKey('AstronetesName', SearchAttributeType.KEYWORD);
/** UID of the custom resource. */
export const RESOURCE_UID = defineSearchAttributeKey('AstronetesUid', SearchAttributeType.KEYWORD);

/** Every custom search attribute, with its type name as `temporal --search-attribute` wants it. */
export const SEARCH_ATTRIBUTES = [RESOURCE_KIND, RESOURCE_NAMESPACE, RESOURCE_NAME, RESOURCE_UID].map(
  (k) => ({
    name: k.name,
    type: 'Keyword',
  }),
);
