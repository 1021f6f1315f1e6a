import type { AddressInfo } from 'node:net';
import {
  type ApiName,
  type ApiRequest,
  type ApiResponse,
  READ_APIS,
  ZNODE_READ_APIS,
} from '@kbroker/client/protocol';
import { MetadataController, MetadataStateMachine, replayBatch } from '@kbroker/metadata-log';
import { checkDataDir, type RaftNode, startRaftNode } from '@kbroker/raft';
import { MetadataZnodeTree, ZooKeeperServer } from '@kbroker/zk-view';
import type { Logger } from 'pino';
import { BrokerLifecycle } from './broker.js';
import { ConnectionPool } from './channel.js';
import { type NodeConfig, parseHostPort } from './config.js';
import { NodeError, toWireError } from './errors.js';
import { HttpServer, NodeMetrics } from './http.js';
import { createLogger } from './logger.js';
import { type Handler, type Handlers, RpcServer, type Session } from './rpc-server.js';
import { saslHandlers } from './sasl.js';
import { isMultiNode, type ListenerName, loadSecurity, mayCall } from './security.js';
import { nodeHandlers } from './service.js';
import { PerBatchStateMachine, WatchHub } from './watch-hub.js';
import { zkUser, zkWriteGuard } from './zk-auth.js';
import { ReplicatedSessionStore } from './zk-sessions.js';
import { ZkAdminWrites } from './zk-writes.js';

export interface StartNodeOptions {
  readonly logger?: Logger;
  /** How often the active controller runs its periodic work (session expiry, no-ops). Default 250 ms. */
  readonly controllerTickMs?: number;
  /**
   * Awaited once the client listener is bound and before Raft starts (loading a large snapshot can take
   * seconds): lets tests and embedders observe a node that is still starting.
   */
  readonly beforeRaftStart?: () => Promise<void>;
}

/** A running kbroker node (broker, controller, or both). */
export interface KbrokerNode {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly roles: readonly ('broker' | 'controller')[];
  readonly raft: RaftNode;
  readonly metadata: MetadataStateMachine;
  readonly controller: MetadataController | undefined;
  readonly broker: BrokerLifecycle | undefined;
  /** `host:port` the client listener is bound to. */
  clientAddress(): string;
  /** What clients are told to connect to. */
  advertisedAddress(): string;
  quorumAddress(): string | undefined;
  httpAddress(): string | undefined;
  /** Where the ZooKeeper-compatible view is served, if it is. */
  zookeeperAddress(): string | undefined;
  /** True once the node serves: a broker registered and unfenced, a controller following a leader. */
  isReady(): boolean;
  /** Controlled shutdown: leaderships moved away, Raft leadership handed over, state flushed. */
  stop(): Promise<void>;
  /** Abrupt stop, as kill -9 (only what is already durable survives). */
  kill(): Promise<void>;
}

const hostPort = (a: AddressInfo) =>
  a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;

/**
 * Starts a node from its configuration: the Raft node (a voter when this id is in the controller
 * quorum and the node has the controller role, an observer following the log otherwise), the metadata
 * image, the controller (controller role), the broker lifecycle (broker role), the client listener and
 * the optional HTTP listener. The data dir must be formatted (`kbroker format`) for this cluster and node.
 */
export async function startNode(config: NodeConfig, options: StartNodeOptions = {}): Promise<KbrokerNode> {
  const log = options.logger ?? createLogger(config.logLevel, config.nodeId, config.roles);
  const security = await loadSecurity(config.tls, config.auth, isMultiNode(config));
  const tlsOn = (listener: ListenerName) => security.tls?.listeners.has(listener) === true;
  const auth = security.auth;
  const identity = await checkDataDir(config.dataDir, { clusterId: config.clusterId, nodeId: config.nodeId });
  const clusterId = identity.clusterId;
  const isController = config.roles.includes('controller');
  const isBroker = config.roles.includes('broker');

  const metadata = new MetadataStateMachine({
    onListenerError: (err) => log.error({ err }, 'metadata listener failed'),
  });
  const perBatch = new PerBatchStateMachine(metadata);
  const watches = new WatchHub(perBatch);
  // Nodes reach the controller through each other's client listeners, as clients: over TLS when that
  // listener is (presenting this node's certificate), as the inter-node user when users are configured.
  const pool = new ConnectionPool(`kbroker-node-${config.nodeId}`, clusterId, undefined, {
    tls:
      security.tls !== undefined && tlsOn('client')
        ? {
            cert: security.tls.cert,
            key: security.tls.key,
            ...(security.tls.ca ? { ca: security.tls.ca } : {}),
          }
        : undefined,
    sasl:
      auth?.interNode === undefined
        ? undefined
        : { username: auth.interNode.user, password: auth.interNode.password },
  });
  const serverTls = (listener: ListenerName, mutual: boolean) => {
    const t = security.tls;
    if (t === undefined || !t.listeners.has(listener)) return undefined;
    return {
      cert: t.cert,
      key: t.key,
      ...(t.ca === undefined ? {} : { ca: t.ca }),
      requestCert: mutual,
      rejectUnauthorized: mutual,
      minVersion: 'TLSv1.2' as const,
      // A peer that opens a connection and never completes the handshake is dropped (Node waits 120 s).
      handshakeTimeout: 10_000,
    };
  };

  // Assigned once the Raft node is up; requests arriving before that see no broker yet.
  let broker: BrokerLifecycle | undefined;

  /** Resolves once the local image has applied `offset` (read-your-writes), or fails retriably. */
  const caughtUpTo = (offset: number, timeoutMs: number): Promise<void> => {
    if (metadata.image.provenance.offset >= offset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new NodeError('REQUEST_TIMED_OUT', `this node has not applied metadata offset ${offset} yet`, true),
        );
      }, timeoutMs);
      const off = metadata.onChange((_c, image) => {
        if (image.provenance.offset < offset) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  };

  // The client listener comes first: its bound address is what brokers and controllers register.
  const listen = parseHostPort(config.listener, 'the listener');
  let handlers: Handlers = {};
  let serving = false;
  const starting = async (): Promise<never> => {
    throw new NodeError('BROKER_NOT_AVAILABLE', `node ${config.nodeId} is starting; retry`, true);
  };
  let metrics: NodeMetrics | undefined;
  const rpc = new RpcServer({
    host: listen.host,
    port: listen.port,
    logger: log,
    toWireError,
    maxRequestTimeoutMs: config.requestTimeoutMs * 4,
    tls: serverTls('client', security.tls?.clientAuth ?? false),
    handlers: new Proxy({} as Handlers, {
      get: (_t, api: string) => {
        // Until Raft has started there are no handlers: a client that connects meanwhile (the listener is
        // bound first, for its address) hears a retriable refusal and tries again or elsewhere, not an
        // unknown-API error that reads as a protocol mismatch.
        if (!serving) return starting;
        const h = handlers[api as ApiName] as Handler<ApiName> | undefined;
        if (h === undefined) return undefined;
        return async (body: never, session: Session, deadline: { timeoutMs: number }) => {
          const start = process.hrtime.bigint();
          try {
            if (auth !== undefined && !mayCall(api, session.permission, auth.unauthenticatedAccess)) {
              log.warn(
                { remote: session.remote, user: session.principal ?? null, api },
                'refusing a request the client is not permitted to make',
              );
              throw new NodeError(
                'CLUSTER_AUTHORIZATION_FAILED',
                session.principal === undefined
                  ? `${api} needs an authenticated user with the permission for it`
                  : `user ${session.principal} (${session.permission}) may not call ${api}`,
              );
            }
            const minOffset = (body as { minOffset?: unknown } | undefined)?.minOffset;
            // A linearizable read is answered by the Raft leader after a quorum check (see service.ts).
            const linearizable = (body as { linearizable?: unknown } | undefined)?.linearizable === true;
            if (
              (READ_APIS.has(api) || ZNODE_READ_APIS.has(api)) &&
              api !== 'metadataStatus' &&
              !linearizable
            ) {
              // A fenced broker's image may be stale: say so (retriable) rather than serve it.
              if (broker?.fenced) {
                throw new NodeError(
                  'BROKER_NOT_AVAILABLE',
                  `broker ${config.nodeId} is fenced or not caught up with the metadata log (offset ${metadata.image.provenance.offset}); retry or ask another broker`,
                  true,
                );
              }
              if (typeof minOffset === 'number') await caughtUpTo(minOffset, deadline.timeoutMs);
            }
            const r = await h(body, session as never, deadline as never);
            metrics?.requests.inc({ api, outcome: 'ok' });
            return r;
          } catch (err) {
            metrics?.requests.inc({ api, outcome: toWireError(err).code });
            throw err;
          } finally {
            metrics?.requestSeconds.observe({ api }, Number(process.hrtime.bigint() - start) / 1e9);
          }
        };
      },
    }),
  });
  const bound = await rpc.start();
  const advertised = config.advertisedListener ?? hostPort(bound);
  const advertisedEndpoint = parseHostPort(advertised, 'the advertised listener');

  let raft: RaftNode;
  try {
    await options.beforeRaftStart?.();
    raft = await startRaftNode({
      nodeId: config.nodeId,
      clusterId,
      dataDir: config.dataDir,
      voters: config.controllerQuorum,
      listen: config.quorumListener,
      stateMachine: perBatch,
      logger: log,
      ...(security.tls !== undefined && tlsOn('quorum')
        ? { tls: { cert: security.tls.cert, key: security.tls.key, ca: security.tls.ca! } }
        : {}),
      ...(config.electionTimeoutMs === undefined
        ? {}
        : {
            electionTimeoutMs: config.electionTimeoutMs,
            heartbeatIntervalMs: Math.max(10, Math.round(config.electionTimeoutMs / 5)),
          }),
    });
  } catch (err) {
    await rpc.close();
    throw err;
  }

  const controller = isController
    ? new MetadataController({
        raft,
        committed: metadata,
        replay: replayBatch,
        clusterId,
        features: new Map([['metadata.version', 1]]),
        controllerEndpoints: [
          {
            name: 'CLIENT',
            host: advertisedEndpoint.host,
            port: advertisedEndpoint.port,
            securityProtocol: 'PLAINTEXT',
          },
        ],
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
        logger: log,
        writeTimeoutMs: config.requestTimeoutMs,
      })
    : undefined;
  if (controller === undefined) {
    // A voter without the controller role (a broker-only node someone added as a voter) must not stay
    // the Raft leader: with no controller there, no metadata could be written. Hand leadership over.
    raft.on('leader-change', (c: { role: string }) => {
      if (c.role !== 'leader') return;
      log.warn('elected Raft leader without the controller role; handing leadership to another voter');
      raft
        .transferLeadership()
        .catch((err: Error) => log.warn({ err: err.message }, 'leadership hand-over failed'));
    });
  }
  const controllerTicker = controller
    ? setInterval(() => void controller.tick(), options.controllerTickMs ?? 250)
    : undefined;

  // Kafka's znode layout, derived from the local image: served by the client API's znode reads on every
  // node, and over the ZooKeeper protocol when `--zookeeper-listener` is set (the same tree).
  const znodes = new MetadataZnodeTree(metadata, {
    // Raft's leader id is 0 while no leader is known.
    controllerId: () => {
      const id = raft.status().leaderId;
      return id > 0 ? id : -1;
    },
    controllerEpoch: () => raft.status().term,
    onListenerError: (err) => log.error({ err }, 'znode tree listener failed'),
  });

  handlers = {
    ...saslHandlers(auth?.users, log),
    ...nodeHandlers({
      nodeId: config.nodeId,
      clusterId,
      roles: config.roles,
      raft,
      image: () => metadata.image,
      controller,
      channel: pool,
      watches,
      znodes,
      self: () => advertisedEndpoint,
      brokerFenced: () => (broker === undefined ? null : broker.fenced),
      now: () => Date.now(),
    }),
  };
  serving = true;

  /** A controller API called by this node itself: run locally when active, else forwarded. */
  const selfCall = <A extends ApiName>(api: A, body: ApiRequest<A>): Promise<ApiResponse<A>> => {
    const h = handlers[api] as Handler<A> | undefined;
    if (h === undefined) throw new Error(`no handler for ${api}`);
    return Promise.resolve(
      h(
        body,
        {
          id: 0,
          remote: 'self',
          clientId: 'self',
          principal: undefined,
          permission: 'admin',
          push: () => false,
          onClose: () => undefined,
        },
        { timeoutMs: config.requestTimeoutMs },
      ),
    );
  };

  broker = isBroker
    ? new BrokerLifecycle({
        brokerId: config.nodeId,
        clusterId,
        endpoint: advertisedEndpoint,
        rack: config.rack,
        heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
        shutdownTimeoutMs: config.sessionTimeoutMs,
        sessionTimeoutMs: config.sessionTimeoutMs,
        sm: metadata,
        call: selfCall,
        logger: log,
      })
    : undefined;
  broker?.start();

  const ready = () => {
    const s = raft.status();
    // `fenced`, not `state`: a broker without a heartbeat for a session timeout refuses reads.
    if (broker !== undefined) return !broker.fenced;
    return s.leaderId > 0 && s.lastApplied >= s.commitIndex;
  };

  // Declared before the HTTP listener, whose metrics read it.
  let zookeeper: ZooKeeperServer | undefined;
  let http: HttpServer | undefined;
  if (config.httpListener !== undefined) {
    metrics = new NodeMetrics({ node_id: String(config.nodeId) }, () => {
      const s = raft.status();
      const image = metadata.image;
      let fenced = 0;
      for (const b of image.cluster.brokers()) if (b.fenced) fenced++;
      return {
        kbroker_raft_term: s.term,
        kbroker_raft_commit_index: s.commitIndex,
        kbroker_raft_applied_index: s.lastApplied,
        kbroker_raft_is_leader: s.role === 'leader' ? 1 : 0,
        kbroker_metadata_offset: image.provenance.offset,
        kbroker_topics: image.topics.topicCount,
        kbroker_partitions: image.topics.partitionCount,
        kbroker_brokers_registered: image.cluster.brokerCount,
        kbroker_brokers_fenced: fenced,
        kbroker_broker_fenced: broker === undefined ? -1 : broker.fenced ? 1 : 0,
        kbroker_zookeeper_sessions: image.zkSessions.count,
        kbroker_zookeeper_connections: zookeeper?.connectionCount ?? -1,
      };
    });
    http = new HttpServer(metrics, serverTls('http', false), () => {
      const s = raft.status();
      return {
        ready: ready(),
        detail: {
          nodeId: config.nodeId,
          role: s.role,
          leaderId: s.leaderId,
          metadataOffset: metadata.image.provenance.offset,
          broker: broker?.state ?? null,
        },
      };
    });
    const h = parseHostPort(config.httpListener, 'the http listener');
    await http.start(h.host, h.port);
  }

  let zookeeperBound: AddressInfo | undefined;
  let zkSessions: ReplicatedSessionStore | undefined;
  if (config.zookeeperListener !== undefined) {
    zkSessions = new ReplicatedSessionStore({
      nodeId: config.nodeId,
      call: selfCall,
      metadata,
      caughtUpTo,
      requestTimeoutMs: config.requestTimeoutMs,
      logger: log.child({ component: 'zookeeper' }),
    });
    zookeeper = new ZooKeeperServer({
      tree: znodes,
      sessions: zkSessions,
      chroot: config.zookeeperChroot,
      logger: log.child({ component: 'zookeeper' }),
      // Kafka's admin writes (topic creation/deletion, configs, elections, offsets) via the controller.
      writeHandler: zkWriteGuard(
        new ZkAdminWrites({ call: selfCall, logger: log.child({ component: 'zookeeper' }) }),
        auth?.users,
      ),
      tls: serverTls('zookeeper', security.tls?.clientAuth ?? false),
      ...(auth === undefined
        ? {}
        : {
            // Znodes hold config values and offsets: read-level, as the client listener's znode reads.
            mayRead: (ids) => auth.unauthenticatedAccess === 'read' || zkUser(auth.users, ids) !== undefined,
            verifyDigest: (id) => [...auth.users.values()].some((u) => u.zkDigest === id),
          }),
    });
    const z = parseHostPort(config.zookeeperListener, 'the zookeeper listener');
    zookeeperBound = await zookeeper.listen(z.port, z.host);
  }

  log.info(
    {
      client: hostPort(bound),
      advertised,
      quorum: raft.status().voters.find((v) => v.id === config.nodeId)?.address,
      roles: config.roles,
      clusterId,
    },
    'kbroker node started',
  );

  let stopped = false;
  const shutdown = async (graceful: boolean) => {
    if (stopped) return;
    stopped = true;
    if (graceful) {
      log.info('controlled shutdown');
      await broker?.stop();
    } else {
      broker?.abort();
    }
    if (controllerTicker) clearInterval(controllerTicker);
    controller?.close();
    await http?.close();
    await zookeeper?.close();
    zkSessions?.dispose();
    znodes.close();
    await rpc.close();
    await pool.close();
    await raft.stop(graceful);
    log.info(graceful ? 'stopped' : 'killed');
  };

  return {
    nodeId: config.nodeId,
    clusterId,
    roles: config.roles,
    raft,
    metadata,
    controller,
    broker,
    clientAddress: () => hostPort(rpc.address() ?? bound),
    advertisedAddress: () => advertised,
    quorumAddress: () => raft.status().voters.find((v) => v.id === config.nodeId)?.address,
    zookeeperAddress: () => (zookeeperBound === undefined ? undefined : hostPort(zookeeperBound)),
    httpAddress: () => {
      const a = http?.address();
      return a === undefined ? undefined : hostPort(a);
    },
    isReady: ready,
    stop: () => shutdown(true),
    kill: () => shutdown(false),
  };
}
