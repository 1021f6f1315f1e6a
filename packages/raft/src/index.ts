/**
 * @kbroker/raft: a Raft library with a pure core (`@kbroker/raft/core`), LevelDB storage, a TCP
 * transport, and a driver that runs them. See docs/raft.md.
 */

export { encodeFrame, FrameDecoder, FrameTooLargeError, MalformedFrameError } from '@kbroker/wire';
export * from './core/index.js';
export {
  type LeaderChange,
  RAFT_DEFAULTS,
  type RaftFrame,
  RaftNode,
  type RaftNodeOptions,
  type RaftStatus,
  type ReplicaStatus,
} from './driver.js';
export * from './errors.js';
export { type StartRaftNodeOptions, startRaftNode, unsafeRecoverDataDir } from './node.js';
export type {
  LogStore,
  PersistBatch,
  RaftStorage,
  SnapshotSink,
  SnapshotStore,
  StableStore,
  StateMachine,
  Transport,
} from './ports.js';
export { DEFAULT_QUORUM_PORT, formatQuorum, parseQuorum, QuorumSpecError } from './quorum.js';
export * from './storage/data-dir.js';
export { LevelStorage, LevelStorageError, SnapshotNotFoundError } from './storage/level-storage.js';
export { decodeRaftFrame, MalformedRaftFrameError } from './transport/raft-frames.js';
export {
  formatAddress,
  parseAddress,
  type QuorumTlsOptions,
  TcpTransport,
  type TcpTransportOptions,
} from './transport/tcp-transport.js';
