/**
 * @kbroker/metadata-log: kbroker's cluster metadata as typed records in one replicated log, replayed into
 * a frozen image (image + delta, as Kafka's `image/` package), snapshots of it, and the quorum
 * controller that turns requests into records.
 */

export { BROKER_CONFIGS, TOPIC_CONFIGS, validateConfig } from './controller/configs.js';
export * from './controller/errors.js';
export * from './controller/handlers.js';
export {
  CONTROLLER_DEFAULTS,
  type HeartbeatRequest,
  type HeartbeatResponse,
  MetadataController,
  type MetadataControllerOptions,
} from './controller/metadata-controller.js';
export {
  type MigrationBatchRequest,
  type MigrationBatchResponse,
  migrateBatch,
} from './controller/migration.js';
export {
  type BatchReplayer,
  type ControllerRaft,
  type ControllerResult,
  QuorumController,
} from './controller/quorum-controller.js';
export { MAX_TOPIC_NAME_LENGTH, validateTopicName } from './controller/topic-names.js';
export { formatSessionId } from './controller/zk-sessions.js';
export * from './image/index.js';
export * from './queries.js';
export * from './records.js';
export { replayBatch } from './replay.js';
export * from './snapshot.js';
export * from './state-machine.js';
