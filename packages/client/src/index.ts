/**
 * @kbroker/client: the Node.js client of kbroker clusters.
 *
 * ```ts
 * import { Kbroker } from '@kbroker/client';
 * const kbroker = new Kbroker({ brokers: ['127.0.0.1:9092'] });
 * const admin = kbroker.admin();
 * await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 3 }] });
 * for await (const event of kbroker.metadata().watch()) handle(event);
 * ```
 */
export type {
  Admin,
  ClientSasl,
  ClientTls,
  ClusterDescription,
  ITopicConfig,
  KbrokerConfig,
  Metadata,
  MetadataWatch,
  Offsets,
  PartitionMetadata,
  RetryOptions,
  Rpc,
  TopicMetadata,
  WatchOptions,
  ZnodeChildren,
  ZnodeData,
  ZnodeReadOptions,
  Znodes,
  ZnodeWatch,
  ZnodeWatchOptions,
} from './api.js';
export { ConfigResourceTypes } from './api.js';
export { Kbroker } from './client.js';
export {
  AuthenticationError,
  AuthorizationError,
  ConnectionError,
  errorFor,
  fromItem,
  fromWire,
  GroupIdNotFoundError,
  InconsistentClusterIdError,
  InvalidConfigError,
  InvalidPartitionsError,
  InvalidReplicaAssignmentError,
  InvalidReplicationFactorError,
  InvalidRequestError,
  InvalidTopicError,
  KbrokerError,
  type KbrokerErrorOptions,
  NotControllerError,
  ProtocolError,
  RequestTimeoutError,
  TopicAlreadyExistsError,
  UnknownTopicOrPartitionError,
  UnsupportedVersionError,
} from './errors.js';
export type {
  ApiName,
  ApiRequest,
  ApiResponse,
  Apis,
  BrokerInfo,
  ConfigResourceKind,
  Endpoint,
  EventFrame,
  ItemResult,
  MetadataEvent,
  MigrationStatus,
  PartitionInfo,
  QuorumInfo,
  QuorumReplica,
  RequestFrame,
  ResponseFrame,
  TopicInfo,
  WireError,
  ZnodeApis,
  ZnodeEventFrame,
  ZnodeEventType,
  ZnodeStat,
  ZnodeWatchEvent,
} from './protocol.js';
export {
  CONTROLLER_APIS,
  DEFAULT_CLIENT_PORT,
  DEFAULT_MAX_FRAME_BYTES,
  IDEMPOTENT_APIS,
  MAX_READ_ZNODES,
  NO_NODE,
  PROTOCOL_VERSION,
  ZNODE_READ_APIS,
} from './protocol.js';
export { NoNodeError } from './znodes.js';
