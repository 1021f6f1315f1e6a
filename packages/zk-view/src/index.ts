/**
 * @kbroker/zk-view: kbroker's metadata as the znode tree ZooKeeper-era Kafka wrote (`MetadataZnodeTree`),
 * and a ZooKeeper wire-protocol server for any znode tree (`ZooKeeperServer`).
 */

export {
  OPEN_ACL,
  parseConnectString,
  type ZkConnectOptions,
  type ZkConnectString,
  ZkError,
  ZkWireClient,
  type ZnodeRead,
} from './client/zk-client.js';
export * from './jute/index.js';
export { buildTree, syntheticSessionId, zxidOf } from './layout.js';
export * from './server/index.js';
export { MetadataZnodeTree, type MetadataZnodeTreeOptions } from './tree.js';
export type * from './types.js';
export { statOf } from './types.js';
