/**
 * @kbroker/broker: the kbroker node (broker and embedded Raft controller), and an in-process cluster
 * for tests (`startCluster`).
 */
export { type ClusterNode, type ClusterOptions, type InProcessCluster, startCluster } from './cluster.js';
export { ConfigError, NODE_DEFAULTS, type NodeConfig, type Role, resolveConfig } from './node/config.js';
export { type KbrokerNode, type StartNodeOptions, startNode } from './node/node.js';
