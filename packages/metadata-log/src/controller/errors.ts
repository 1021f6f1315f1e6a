/**
 * The controller's refusals, each with a stable Kafka-style name, Kafka's numeric protocol error code and
 * Kafka's retriable classification (from `org.apache.kafka.common.protocol.Errors`), so a request handler
 * can put `errorCode` straight into a response.
 */

interface ErrorSpec {
  /** Kafka's protocol error code; -1 (UNKNOWN_SERVER_ERROR) where Kafka has none of its own. */
  readonly errorCode: number;
  /** Whether Kafka classifies the error as retriable (its exception extends RetriableException). */
  readonly retriable: boolean;
  /** Kafka's default message for the code. */
  readonly message: string;
}

/** Every code the controller may raise. Numbers and retriability are Kafka's (clients depend on them). */
export const CONTROLLER_ERRORS = {
  UNKNOWN_SERVER_ERROR: {
    errorCode: -1,
    retriable: false,
    message: 'The server experienced an unexpected error when processing the request.',
  },
  UNKNOWN_TOPIC_OR_PARTITION: {
    errorCode: 3,
    retriable: true,
    message: 'This server does not host this topic-partition.',
  },
  LEADER_NOT_AVAILABLE: {
    errorCode: 5,
    retriable: true,
    message: 'There is no leader for this topic-partition as we are in the middle of a leadership election.',
  },
  NOT_LEADER_OR_FOLLOWER: {
    errorCode: 6,
    retriable: true,
    message:
      'For requests intended only for the leader, this error indicates that the broker is not the current leader.',
  },
  REQUEST_TIMED_OUT: { errorCode: 7, retriable: true, message: 'The request timed out.' },
  INVALID_TOPIC_EXCEPTION: {
    errorCode: 17,
    retriable: false,
    message: 'The request attempted to perform an operation on an invalid topic.',
  },
  NOT_ENOUGH_REPLICAS: {
    errorCode: 19,
    retriable: true,
    message: 'Messages are rejected since there are fewer in-sync replicas than required.',
  },
  BROKER_NOT_AVAILABLE: {
    errorCode: 8,
    // Not retriable in Kafka's table; kbroker's node marks its own fenced-broker refusal retriable.
    retriable: false,
    message: 'The broker is not available (fenced, or not caught up with the metadata log).',
  },
  OFFSET_METADATA_TOO_LARGE: {
    errorCode: 12,
    retriable: false,
    message: 'The metadata field of the offset request was too large.',
  },
  INVALID_GROUP_ID: { errorCode: 24, retriable: false, message: 'The configured groupId is invalid.' },
  TOPIC_AUTHORIZATION_FAILED: { errorCode: 29, retriable: false, message: 'Topic authorization failed.' },
  CLUSTER_AUTHORIZATION_FAILED: { errorCode: 31, retriable: false, message: 'Cluster authorization failed.' },
  UNSUPPORTED_VERSION: { errorCode: 35, retriable: false, message: 'The version of API is not supported.' },
  TOPIC_ALREADY_EXISTS: { errorCode: 36, retriable: false, message: 'Topic with this name already exists.' },
  INVALID_PARTITIONS: { errorCode: 37, retriable: false, message: 'Number of partitions is below 1.' },
  INVALID_REPLICATION_FACTOR: {
    errorCode: 38,
    retriable: false,
    message: 'Replication factor is below 1 or larger than the number of available brokers.',
  },
  INVALID_REPLICA_ASSIGNMENT: { errorCode: 39, retriable: false, message: 'Replica assignment is invalid.' },
  INVALID_CONFIG: { errorCode: 40, retriable: false, message: 'Configuration is invalid.' },
  NOT_CONTROLLER: {
    errorCode: 41,
    retriable: true,
    message: 'This is not the correct controller for this cluster.',
  },
  INVALID_REQUEST: {
    errorCode: 42,
    retriable: false,
    message:
      'This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker.',
  },
  POLICY_VIOLATION: {
    errorCode: 44,
    retriable: false,
    message: 'Request parameters do not satisfy the configured policy.',
  },
  OPERATION_NOT_ATTEMPTED: {
    errorCode: 55,
    retriable: false,
    message: 'The broker did not attempt to execute this operation.',
  },
  REASSIGNMENT_IN_PROGRESS: {
    errorCode: 60,
    retriable: false,
    message: 'A partition reassignment is in progress.',
  },
  NON_EMPTY_GROUP: { errorCode: 68, retriable: false, message: 'The group is not empty.' },
  GROUP_ID_NOT_FOUND: { errorCode: 69, retriable: false, message: 'The group id does not exist.' },
  TOPIC_DELETION_DISABLED: { errorCode: 73, retriable: false, message: 'Topic deletion is disabled.' },
  FENCED_LEADER_EPOCH: {
    errorCode: 74,
    retriable: true,
    message: 'The leader epoch in the request is older than the epoch on the broker.',
  },
  STALE_BROKER_EPOCH: { errorCode: 77, retriable: false, message: 'Broker epoch has changed.' },
  PREFERRED_LEADER_NOT_AVAILABLE: {
    errorCode: 80,
    retriable: true,
    message: 'The preferred leader was not available.',
  },
  ELIGIBLE_LEADERS_NOT_AVAILABLE: {
    errorCode: 83,
    retriable: true,
    message: 'Eligible topic partition leaders are not available.',
  },
  ELECTION_NOT_NEEDED: {
    errorCode: 84,
    retriable: true,
    message: 'Leader election not needed for topic partition.',
  },
  NO_REASSIGNMENT_IN_PROGRESS: {
    errorCode: 85,
    retriable: false,
    message: 'No partition reassignment is in progress.',
  },
  GROUP_SUBSCRIBED_TO_TOPIC: {
    errorCode: 86,
    retriable: false,
    message:
      'Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.',
  },
  THROTTLING_QUOTA_EXCEEDED: {
    errorCode: 89,
    retriable: true,
    message: 'The throttling quota has been exceeded.',
  },
  RESOURCE_NOT_FOUND: {
    errorCode: 91,
    retriable: false,
    message: 'A request illegally referred to a resource that does not exist.',
  },
  DUPLICATE_RESOURCE: {
    errorCode: 92,
    retriable: false,
    message: 'A request illegally referred to the same resource twice.',
  },
  INVALID_UPDATE_VERSION: {
    errorCode: 95,
    retriable: false,
    message: 'The given update version was invalid.',
  },
  FEATURE_UPDATE_FAILED: {
    errorCode: 96,
    retriable: false,
    message: 'Unable to update finalized features due to an unexpected server error.',
  },
  UNKNOWN_TOPIC_ID: { errorCode: 100, retriable: true, message: 'This server does not host this topic ID.' },
  DUPLICATE_BROKER_REGISTRATION: {
    errorCode: 101,
    retriable: false,
    message: 'This broker ID is already in use.',
  },
  BROKER_ID_NOT_REGISTERED: {
    errorCode: 102,
    retriable: false,
    message: 'The given broker ID was not registered.',
  },
  INCONSISTENT_CLUSTER_ID: {
    errorCode: 104,
    retriable: false,
    message: 'The clusterId in the request does not match that found on the server.',
  },
  INELIGIBLE_REPLICA: {
    errorCode: 107,
    retriable: false,
    message: 'The new ISR contains at least one ineligible replica.',
  },
  NEW_LEADER_ELECTED: {
    errorCode: 108,
    retriable: false,
    message:
      'The AlterPartition request successfully updated the partition state but the leader has changed.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ControllerErrorCode = keyof typeof CONTROLLER_ERRORS;

export interface ControllerErrorOptions {
  /** For NOT_CONTROLLER: the node believed to be the active controller (0 or absent when unknown). */
  readonly leaderId?: number;
  readonly cause?: unknown;
}

/** A controller refusal: `code` is stable, `errorCode` is Kafka's wire code, `retriable` Kafka's class. */
export class ControllerError extends Error {
  override readonly name = 'ControllerError';
  readonly errorCode: number;
  readonly retriable: boolean;
  readonly leaderId: number | undefined;

  constructor(
    readonly code: ControllerErrorCode,
    message?: string,
    options?: ControllerErrorOptions,
  ) {
    const spec: ErrorSpec = CONTROLLER_ERRORS[code];
    super(message ?? spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.errorCode = spec.errorCode;
    this.retriable = spec.retriable;
    this.leaderId = options?.leaderId;
  }
}

/** Kafka's numeric code for a name (NONE = 0 is not an error and has no entry). */
export function kafkaErrorCode(code: ControllerErrorCode): number {
  return CONTROLLER_ERRORS[code].errorCode;
}

/**
 * The (errorCode, errorMessage) pair a response carries for any thrown value. Anything that is not a
 * ControllerError is a bug or an environment failure: it maps to UNKNOWN_SERVER_ERROR so a response is
 * still well-formed.
 */
export function toApiError(err: unknown): { readonly errorCode: number; readonly errorMessage: string } {
  if (err instanceof ControllerError) return { errorCode: err.errorCode, errorMessage: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { errorCode: CONTROLLER_ERRORS.UNKNOWN_SERVER_ERROR.errorCode, errorMessage: message };
}
