import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDataDir, randomClusterId } from '@kbroker/raft';
import { freePorts, waitFor } from '@kbroker/raft/testing';
import { type Logger, pino } from 'pino';
import { type NodeConfig, resolveConfig } from './node/config.js';
import { type KbrokerNode, startNode } from './node/node.js';

export interface ClusterOptions {
  /** Nodes that are both broker and controller (the controller quorum). Default 3. */
  readonly nodes?: number;
  /** Additional broker-only nodes, following the log as Raft observers. Default 0. */
  readonly brokerOnlyNodes?: number;
  /** Racks assigned round-robin to brokers (none by default). */
  readonly racks?: readonly string[];
  readonly sessionTimeoutMs?: number;
  readonly brokerHeartbeatIntervalMs?: number;
  /** Raft election timeout of the nodes. Default 1000 (a production node's default is 250). */
  readonly electionTimeoutMs?: number;
  /** pino level for the nodes' logs (default 'silent'). */
  readonly logLevel?: string;
  /** Serve the ZooKeeper-compatible view on every node (see `zookeeperAddress` of each node). */
  readonly zookeeper?: boolean;
  /** With `zookeeper`: mount the view under this chroot (e.g. /kafka). */
  readonly zookeeperChroot?: string;
  /** The cluster id the data dirs are formatted with (default: a random one). */
  readonly clusterId?: string;
  /** How long `startCluster` and `waitUntilReady` wait for readiness. Default 30000. */
  readonly startTimeoutMs?: number;
}

export interface ClusterNode {
  readonly nodeId: number;
  readonly config: NodeConfig;
  /** The running node, or undefined while stopped or killed. */
  readonly node: KbrokerNode | undefined;
  /** The client listener, stable across restarts. */
  readonly address: string;
}

/** A cluster of kbroker nodes inside this process, for tests. */
export interface InProcessCluster {
  readonly clusterId: string;
  readonly nodes: readonly ClusterNode[];
  /** Client addresses of every node (bootstrap servers for a client). */
  readonly brokers: readonly string[];
  node(nodeId: number): ClusterNode;
  /** The node whose controller is active. */
  controller(): Promise<KbrokerNode>;
  /** Controlled shutdown of one node. */
  stopNode(nodeId: number): Promise<void>;
  /** Abrupt stop of one node (only what is durable survives). */
  killNode(nodeId: number): Promise<void>;
  /** Starts a stopped or killed node again on the same ports and data dir. */
  restartNode(nodeId: number): Promise<void>;
  /** Cuts the node off from the quorum (both directions) until `heal`. */
  partitionNode(nodeId: number): void;
  heal(nodeId?: number): void;
  /** Resolves once a controller is active and every running broker is unfenced. */
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the data dirs. */
  stop(): Promise<void>;
}

/**
 * Starts kbroker nodes in this process on ephemeral ports with temporary data dirs, and resolves only
 * when a controller is active and every broker is unfenced, so tests do not race the cluster.
 *
 *   const cluster = await startCluster({ nodes: 3 });
 *   const client = new Kbroker({ brokers: cluster.brokers });
 *   ...
 *   await cluster.stop();
 */
export async function startCluster(options: ClusterOptions = {}): Promise<InProcessCluster> {
  const voters = options.nodes ?? 3;
  const extra = options.brokerOnlyNodes ?? 0;
  const total = voters + extra;
  if (voters < 1) throw new Error('a cluster needs at least one controller node');
  const root = await mkdtemp(join(tmpdir(), 'kbroker-cluster-'));
  const clusterId = options.clusterId ?? randomClusterId();
  const ports = await freePorts(total * 3);
  const quorum = Array.from({ length: voters }, (_, i) => `${i + 1}@127.0.0.1:${ports[total + i]}`).join(',');
  const logger: Logger = pino({ level: options.logLevel ?? 'silent' });
  const entries: { nodeId: number; config: NodeConfig; node: KbrokerNode | undefined; address: string }[] =
    [];
  for (let i = 0; i < total; i++) {
    const nodeId = i + 1;
    const dataDir = join(root, `node-${nodeId}`);
    await formatDataDir(dataDir, { clusterId, nodeId });
    const config = resolveConfig({
      nodeId,
      controllerQuorum: quorum,
      roles: nodeId <= voters ? ['broker', 'controller'] : ['broker'],
      listener: `127.0.0.1:${ports[i]}`,
      zookeeperListener: options.zookeeper ? `127.0.0.1:${ports[2 * total + i]}` : undefined,
      zookeeperChroot: options.zookeeper ? options.zookeeperChroot : undefined,
      dataDir,
      clusterId,
      rack:
        options.racks === undefined || options.racks.length === 0
          ? null
          : options.racks[i % options.racks.length]!,
      sessionTimeoutMs: options.sessionTimeoutMs,
      brokerHeartbeatIntervalMs: options.brokerHeartbeatIntervalMs ?? 500,
      // 1 s by default, not the 250 ms of a production node: test machines are shared and loaded, and a
      // test should not race spurious elections (failovers still happen, just a little slower).
      electionTimeoutMs: options.electionTimeoutMs ?? 1000,
      logLevel: options.logLevel ?? 'silent',
    });
    entries.push({ nodeId, config, node: undefined, address: config.listener });
  }
  const start = async (e: (typeof entries)[number]) => {
    e.node = await startNode(e.config, { logger: logger.child({ nodeId: e.nodeId }) });
  };
  try {
    await Promise.all(entries.map(start));
  } catch (err) {
    await Promise.all(entries.map((e) => e.node?.kill()));
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  const find = (nodeId: number) => {
    const e = entries.find((x) => x.nodeId === nodeId);
    if (e === undefined) throw new Error(`no node ${nodeId} in this cluster`);
    return e;
  };
  // A partitioned node hears nobody and nobody hears it; the others still talk among themselves.
  const partitioned = new Set<number>();
  const applyPartitions = () => {
    for (const e of entries) {
      if (partitioned.has(e.nodeId)) e.node?.raft.setPartitioned('all');
      else e.node?.raft.setPartitioned(partitioned.size === 0 ? undefined : new Set(partitioned));
    }
  };
  const cluster: InProcessCluster = {
    clusterId,
    nodes: entries,
    brokers: entries.map((e) => e.address),
    node: find,
    async controller() {
      let found: KbrokerNode | undefined;
      await waitFor(() => {
        found = entries.find((e) => e.node?.controller?.isActive())?.node;
        return found !== undefined;
      }, 'an active controller');
      return found!;
    },
    async stopNode(nodeId) {
      const e = find(nodeId);
      await e.node?.stop();
      e.node = undefined;
    },
    async killNode(nodeId) {
      const e = find(nodeId);
      await e.node?.kill();
      e.node = undefined;
    },
    async restartNode(nodeId) {
      const e = find(nodeId);
      if (e.node !== undefined) throw new Error(`node ${nodeId} is running`);
      await start(e);
      applyPartitions();
    },
    partitionNode(nodeId) {
      find(nodeId);
      partitioned.add(nodeId);
      applyPartitions();
    },
    heal(nodeId) {
      if (nodeId === undefined) partitioned.clear();
      else partitioned.delete(nodeId);
      applyPartitions();
    },
    async waitUntilReady(timeoutMs = options.startTimeoutMs ?? 30_000) {
      await waitFor(
        () =>
          entries.some((e) => e.node?.controller?.isActive()) &&
          entries.every((e) => e.node === undefined || e.node.isReady()),
        'a controller and every broker unfenced',
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(
        entries.map(async (e) => {
          await e.node?.kill();
          e.node = undefined;
        }),
      );
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitUntilReady();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
