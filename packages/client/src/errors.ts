/**
 * The client's typed errors. Every error the client throws is a `KbrokerError` (or a subclass users can
 * test with `instanceof`), carrying the broker's stable name (`code`), Kafka's numeric protocol code
 * (`errorCode`, -1 when there is none) and Kafka's retriable classification.
 *
 * Errors that come from the broker are built by `fromWire` (a request's top-level error) or `fromItem`
 * (a per-topic / per-partition result); errors the client detects itself (a lost connection, a request
 * it gave up waiting for, a peer breaking the protocol) have their own classes.
 */
import type { Endpoint, ItemResult, WireError } from './protocol.js';

/** Options of a `KbrokerError`. Absent fields take the defaults of the error's `code`. */
export interface KbrokerErrorOptions {
  /** Kafka's numeric code; default: the code's known number, else -1. */
  readonly errorCode?: number;
  /** Default: the code's known classification, else false. */
  readonly retriable?: boolean;
  /** NOT_CONTROLLER / NOT_LEADER: the node believed to lead, when known. */
  readonly leaderId?: number;
  /** NOT_CONTROLLER / NOT_LEADER: where the leader is reachable, when known. */
  readonly leaderEndpoint?: Endpoint;
  readonly cause?: unknown;
}

interface CodeSpec {
  readonly errorCode: number;
  readonly retriable: boolean;
}

/**
 * The codes the broker may send, with Kafka's numbers and retriable classes (from
 * `org.apache.kafka.common.protocol.Errors`). Used to fill in what a per-item result leaves out and to
 * classify codes the client raises itself. An unknown code is not retriable.
 */
const KNOWN_CODES: Readonly<Record<string, CodeSpec>> = {
  UNKNOWN_SERVER_ERROR: { errorCode: -1, retriable: false },
  UNKNOWN_TOPIC_OR_PARTITION: { errorCode: 3, retriable: true },
  LEADER_NOT_AVAILABLE: { errorCode: 5, retriable: true },
  NOT_LEADER_OR_FOLLOWER: { errorCode: 6, retriable: true },
  REQUEST_TIMED_OUT: { errorCode: 7, retriable: true },
  OFFSET_METADATA_TOO_LARGE: { errorCode: 12, retriable: false },
  INVALID_TOPIC_EXCEPTION: { errorCode: 17, retriable: false },
  NOT_ENOUGH_REPLICAS: { errorCode: 19, retriable: true },
  INVALID_GROUP_ID: { errorCode: 24, retriable: false },
  TOPIC_AUTHORIZATION_FAILED: { errorCode: 29, retriable: false },
  CLUSTER_AUTHORIZATION_FAILED: { errorCode: 31, retriable: false },
  UNSUPPORTED_VERSION: { errorCode: 35, retriable: false },
  TOPIC_ALREADY_EXISTS: { errorCode: 36, retriable: false },
  INVALID_PARTITIONS: { errorCode: 37, retriable: false },
  INVALID_REPLICATION_FACTOR: { errorCode: 38, retriable: false },
  INVALID_REPLICA_ASSIGNMENT: { errorCode: 39, retriable: false },
  INVALID_CONFIG: { errorCode: 40, retriable: false },
  NOT_CONTROLLER: { errorCode: 41, retriable: true },
  INVALID_REQUEST: { errorCode: 42, retriable: false },
  POLICY_VIOLATION: { errorCode: 44, retriable: false },
  OPERATION_NOT_ATTEMPTED: { errorCode: 55, retriable: false },
  REASSIGNMENT_IN_PROGRESS: { errorCode: 60, retriable: false },
  SASL_AUTHENTICATION_FAILED: { errorCode: 58, retriable: false },
  NON_EMPTY_GROUP: { errorCode: 68, retriable: false },
  GROUP_ID_NOT_FOUND: { errorCode: 69, retriable: false },
  TOPIC_DELETION_DISABLED: { errorCode: 73, retriable: false },
  FENCED_LEADER_EPOCH: { errorCode: 74, retriable: true },
  STALE_BROKER_EPOCH: { errorCode: 77, retriable: false },
  PREFERRED_LEADER_NOT_AVAILABLE: { errorCode: 80, retriable: true },
  ELIGIBLE_LEADERS_NOT_AVAILABLE: { errorCode: 83, retriable: true },
  ELECTION_NOT_NEEDED: { errorCode: 84, retriable: true },
  NO_REASSIGNMENT_IN_PROGRESS: { errorCode: 85, retriable: false },
  GROUP_SUBSCRIBED_TO_TOPIC: { errorCode: 86, retriable: false },
  THROTTLING_QUOTA_EXCEEDED: { errorCode: 89, retriable: true },
  RESOURCE_NOT_FOUND: { errorCode: 91, retriable: false },
  DUPLICATE_RESOURCE: { errorCode: 92, retriable: false },
  UNKNOWN_TOPIC_ID: { errorCode: 100, retriable: true },
  DUPLICATE_BROKER_REGISTRATION: { errorCode: 101, retriable: false },
  BROKER_ID_NOT_REGISTERED: { errorCode: 102, retriable: false },
  INCONSISTENT_CLUSTER_ID: { errorCode: 104, retriable: false },
  INELIGIBLE_REPLICA: { errorCode: 107, retriable: false },
  NEW_LEADER_ELECTED: { errorCode: 108, retriable: false },
  // Raised by the client itself; no Kafka number.
  CONNECTION_ERROR: { errorCode: -1, retriable: true },
  PROTOCOL_ERROR: { errorCode: -1, retriable: false },
};

const CODE_BY_NUMBER: ReadonlyMap<number, string> = new Map(
  Object.entries(KNOWN_CODES)
    .filter(([, spec]) => spec.errorCode >= 0)
    .map(([code, spec]) => [spec.errorCode, code]),
);

/** The base of every error the client throws. */
export class KbrokerError extends Error {
  override name = 'KbrokerError';
  /** Stable Kafka-style name: NOT_CONTROLLER, TOPIC_ALREADY_EXISTS, CONNECTION_ERROR, ... */
  readonly code: string;
  /** Kafka's numeric protocol error code; -1 when there is none. */
  readonly errorCode: number;
  /** Whether trying again may succeed (Kafka's classification for broker codes). */
  readonly retriable: boolean;
  /** NOT_CONTROLLER / NOT_LEADER: the node believed to lead, when known. */
  readonly leaderId: number | undefined;
  /** NOT_CONTROLLER / NOT_LEADER: where that node is reachable, when known. */
  readonly leaderEndpoint: Endpoint | undefined;

  constructor(code: string, message: string, options: KbrokerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec = KNOWN_CODES[code];
    this.code = code;
    this.errorCode = options.errorCode ?? spec?.errorCode ?? -1;
    this.retriable = options.retriable ?? spec?.retriable ?? false;
    this.leaderId = options.leaderId;
    this.leaderEndpoint = options.leaderEndpoint;
  }
}

/** TOPIC_ALREADY_EXISTS (36). */
export class TopicAlreadyExistsError extends KbrokerError {
  override name = 'TopicAlreadyExistsError';
}

/** UNKNOWN_TOPIC_OR_PARTITION (3), or UNKNOWN_TOPIC_ID (100). Retriable: the topic may be on its way. */
export class UnknownTopicOrPartitionError extends KbrokerError {
  override name = 'UnknownTopicOrPartitionError';
}

/** INVALID_REPLICATION_FACTOR (38): below 1 or above the number of available brokers. */
export class InvalidReplicationFactorError extends KbrokerError {
  override name = 'InvalidReplicationFactorError';
}

/** INVALID_PARTITIONS (37): a partition count below 1 or not above the current one. */
export class InvalidPartitionsError extends KbrokerError {
  override name = 'InvalidPartitionsError';
}

/** INVALID_REPLICA_ASSIGNMENT (39). */
export class InvalidReplicaAssignmentError extends KbrokerError {
  override name = 'InvalidReplicaAssignmentError';
}

/** INVALID_TOPIC_EXCEPTION (17): an illegal topic name or an operation a topic does not allow. */
export class InvalidTopicError extends KbrokerError {
  override name = 'InvalidTopicError';
}

/** INVALID_CONFIG (40). */
export class InvalidConfigError extends KbrokerError {
  override name = 'InvalidConfigError';
}

/** INVALID_REQUEST (42): the request is malformed (also raised by the client for bad arguments). */
export class InvalidRequestError extends KbrokerError {
  override name = 'InvalidRequestError';
}

/** GROUP_ID_NOT_FOUND (69). */
export class GroupIdNotFoundError extends KbrokerError {
  override name = 'GroupIdNotFoundError';
}

/**
 * NOT_CONTROLLER (41): the node is not the active controller (or lost leadership before the write
 * committed). Retriable; `leaderId` / `leaderEndpoint` name the controller when the node knows it.
 */
export class NotControllerError extends KbrokerError {
  override name = 'NotControllerError';
}

/** INCONSISTENT_CLUSTER_ID (104): the broker belongs to another cluster than `config.clusterId`. */
export class InconsistentClusterIdError extends KbrokerError {
  override name = 'InconsistentClusterIdError';
}

/** SASL_AUTHENTICATION_FAILED (58): wrong user or password, or the node requires credentials. */
export class AuthenticationError extends KbrokerError {
  override name = 'AuthenticationError';
}

/**
 * CLUSTER_AUTHORIZATION_FAILED (31) / TOPIC_AUTHORIZATION_FAILED (29): the principal (or an
 * unauthenticated client) may not make this request.
 */
export class AuthorizationError extends KbrokerError {
  override name = 'AuthorizationError';
}

/** UNSUPPORTED_VERSION (35): the broker does not speak this client's protocol version. */
export class UnsupportedVersionError extends KbrokerError {
  override name = 'UnsupportedVersionError';
}

/**
 * REQUEST_TIMED_OUT (7): no answer within the request timeout (the client gave up waiting), or the
 * broker answered that it ran out of time. Retriable, but the outcome is unknown: the request may have
 * been carried out.
 */
export class RequestTimeoutError extends KbrokerError {
  override name = 'RequestTimeoutError';
  constructor(message: string, options: KbrokerErrorOptions = {}) {
    super('REQUEST_TIMED_OUT', message, options);
  }
}

/**
 * CONNECTION_ERROR: a connection could not be made, broke, or was closed by the client. Retriable.
 * `requestSent` tells whether the failed request had been written to the connection: when false the
 * broker certainly did not process it; when true the outcome is unknown.
 */
export class ConnectionError extends KbrokerError {
  override name = 'ConnectionError';
  /** Whether the request had been written before the connection failed (its outcome is then unknown). */
  readonly requestSent: boolean;

  constructor(message: string, options: KbrokerErrorOptions & { readonly requestSent?: boolean } = {}) {
    super('CONNECTION_ERROR', message, { ...options, retriable: options.retriable ?? true });
    this.requestSent = options.requestSent ?? false;
  }
}

/** PROTOCOL_ERROR: the peer broke the protocol (bad frame, oversized frame, unexpected message). */
export class ProtocolError extends KbrokerError {
  override name = 'ProtocolError';
  constructor(message: string, options: KbrokerErrorOptions = {}) {
    super('PROTOCOL_ERROR', message, options);
  }
}

type ErrorClass = new (code: string, message: string, options?: KbrokerErrorOptions) => KbrokerError;

/** The class of each code that has its own (the others are plain `KbrokerError`s). */
const CLASS_BY_CODE: Readonly<Record<string, ErrorClass>> = {
  TOPIC_ALREADY_EXISTS: TopicAlreadyExistsError,
  UNKNOWN_TOPIC_OR_PARTITION: UnknownTopicOrPartitionError,
  UNKNOWN_TOPIC_ID: UnknownTopicOrPartitionError,
  INVALID_REPLICATION_FACTOR: InvalidReplicationFactorError,
  INVALID_PARTITIONS: InvalidPartitionsError,
  INVALID_REPLICA_ASSIGNMENT: InvalidReplicaAssignmentError,
  INVALID_TOPIC_EXCEPTION: InvalidTopicError,
  INVALID_TOPIC: InvalidTopicError,
  INVALID_CONFIG: InvalidConfigError,
  INVALID_REQUEST: InvalidRequestError,
  GROUP_ID_NOT_FOUND: GroupIdNotFoundError,
  NOT_CONTROLLER: NotControllerError,
  INCONSISTENT_CLUSTER_ID: InconsistentClusterIdError,
  SASL_AUTHENTICATION_FAILED: AuthenticationError,
  CLUSTER_AUTHORIZATION_FAILED: AuthorizationError,
  TOPIC_AUTHORIZATION_FAILED: AuthorizationError,
  UNSUPPORTED_VERSION: UnsupportedVersionError,
};

/** Builds the typed error for a code. Client-side classes with fixed codes are built by their own code. */
export function errorFor(code: string, message: string, options: KbrokerErrorOptions = {}): KbrokerError {
  switch (code) {
    case 'REQUEST_TIMED_OUT':
      return new RequestTimeoutError(message, options);
    case 'CONNECTION_ERROR':
      return new ConnectionError(message, options);
    case 'PROTOCOL_ERROR':
      return new ProtocolError(message, options);
  }
  const Class = CLASS_BY_CODE[code] ?? KbrokerError;
  return new Class(code, message, options);
}

/**
 * The typed error of a response's top-level error. The broker's `errorCode` and `retriable` are kept
 * as sent (the broker is the authority on its own classification).
 */
export function fromWire(wire: WireError): KbrokerError {
  const code = typeof wire.code === 'string' && wire.code !== '' ? wire.code : 'UNKNOWN_SERVER_ERROR';
  const options: KbrokerErrorOptions = {
    errorCode: typeof wire.errorCode === 'number' ? wire.errorCode : undefined,
    retriable: typeof wire.retriable === 'boolean' ? wire.retriable : undefined,
    leaderId: typeof wire.leaderId === 'number' ? wire.leaderId : undefined,
    leaderEndpoint: isEndpoint(wire.leaderEndpoint) ? wire.leaderEndpoint : undefined,
  };
  const message = typeof wire.message === 'string' ? wire.message : code;
  // A broker answering CONNECTION_ERROR lost its own connection onward (to the controller it forwarded
  // the request to): the request reached the cluster and may have been applied, so its outcome is unknown.
  if (code === 'CONNECTION_ERROR') return new ConnectionError(message, { ...options, requestSent: true });
  return errorFor(code, message, options);
}

/**
 * The typed error of a failed per-item result (`errorCode` != 0), or undefined for a success. `what`
 * names the item in the message (`topic 'a'`). A result without a name is named from its number.
 */
export function fromItem(item: ItemResult, what?: string): KbrokerError | undefined {
  if (item.errorCode === 0 && item.error === null) return undefined;
  const code = item.error ?? CODE_BY_NUMBER.get(item.errorCode) ?? 'UNKNOWN_SERVER_ERROR';
  const detail = item.errorMessage ?? code;
  return errorFor(code, what === undefined ? detail : `${what}: ${detail}`, { errorCode: item.errorCode });
}

/** Wraps anything thrown into a `KbrokerError`: anything else becomes a non-retriable UNKNOWN_ERROR. */
export function toKbrokerError(err: unknown): KbrokerError {
  if (err instanceof KbrokerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new KbrokerError('UNKNOWN_ERROR', message, { cause: err, retriable: false });
}

function isEndpoint(value: unknown): value is Endpoint {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Endpoint).host === 'string' &&
    typeof (value as Endpoint).port === 'number'
  );
}
