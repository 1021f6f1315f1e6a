import type {
  ApiName,
  ApiRequest,
  ApiResponse,
  ConfigResourceKind,
  Endpoint,
  EventFrame,
  ZnodeEventFrame,
  ZnodeEventType,
  ZnodeStat,
  ZnodeWatchEvent,
} from '@kbroker/client/protocol';
import { CONTROLLER_APIS, MAX_READ_ZNODES, NO_NODE, PROTOCOL_VERSION } from '@kbroker/client/protocol';
import {
  ConfigResourceType,
  ControllerError,
  describeCluster,
  describeConfigs,
  describeQuorum,
  describeTopics,
  fetchOffsets,
  listGroups,
  listTopics,
  type MetadataController,
  type MetadataImage,
} from '@kbroker/metadata-log';
import type { RaftNode } from '@kbroker/raft';
import type { MetadataZnodeTree, Stat, ZnodeChange } from '@kbroker/zk-view';
import { NodeError } from './errors.js';
import { imageDigest } from './image-digest.js';
import { withLinearizableReads } from './linearizable-reads.js';
import type { Handlers, Session } from './rpc-server.js';
import type { WatchHub } from './watch-hub.js';

/** Sends a request to another node's client listener (used to reach the active controller). */
export interface ControllerChannel {
  call<A extends ApiName>(
    endpoint: Endpoint,
    api: A,
    body: ApiRequest<A>,
    timeoutMs: number,
  ): Promise<ApiResponse<A>>;
}

export interface ServiceContext {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly roles: readonly ('broker' | 'controller')[];
  readonly raft: RaftNode;
  readonly image: () => MetadataImage;
  readonly controller: MetadataController | undefined;
  readonly channel: ControllerChannel;
  readonly watches: WatchHub;
  /** The node's znode view of its metadata (Kafka's ZooKeeper layout), for the znode APIs. */
  readonly znodes: MetadataZnodeTree;
  /** This node's own client endpoint (never forward to it). */
  readonly self: () => Endpoint;
  /** The broker lifecycle's view: is this broker fenced (null for controller-only nodes)? */
  readonly brokerFenced: () => boolean | null;
  readonly now: () => number;
}

/** The wire form of a Stat: 64-bit ids as decimal strings, times and counts as numbers. */
function wireStat(s: Stat): ZnodeStat {
  return {
    czxid: s.czxid.toString(),
    mzxid: s.mzxid.toString(),
    ctime: Number(s.ctime),
    mtime: Number(s.mtime),
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: s.ephemeralOwner.toString(),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
    pzxid: s.pzxid.toString(),
  };
}

/** Absolute, no trailing slash, no empty / `.` / `..` segment (ZooKeeper's path rules, simplified). */
function checkPath(path: unknown): string {
  const bad =
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    (path !== '/' &&
      path
        .slice(1)
        .split('/')
        .some((seg) => seg === '' || seg === '.' || seg === '..'));
  if (bad) throw new NodeError('INVALID_REQUEST', `invalid znode path ${JSON.stringify(path)}`);
  return path;
}

/** One connection's znode watches (ZooKeeper keeps one watch per path and kind per session). */
interface ZnodeSession {
  /** The `watch` id of this connection's znode event frames. */
  readonly channel: number;
  /** One-shot watches left by getZnodeData (and znodeExists on an existing znode: a data watch). */
  readonly data: Set<string>;
  /** One-shot watches left by znodeExists on a missing znode (fire on creation). */
  readonly exist: Set<string>;
  /** One-shot watches left by getZnodeChildren. */
  readonly child: Set<string>;
  /** Persistent watches by the client's tag. */
  readonly persistent: Map<number, { readonly path: string; readonly recursive: boolean }>;
  readonly session: Session;
}

const EVENT_TYPE: Readonly<Record<ZnodeChange['kind'], ZnodeEventType>> = {
  created: 'NodeCreated',
  deleted: 'NodeDeleted',
  data: 'NodeDataChanged',
  children: 'NodeChildrenChanged',
};

/**
 * Serves the znode APIs from `tree` and fires the sessions' watches from its changes. Events are
 * written from the tree's change listener itself, i.e. as soon as the image is applied and before any
 * later read on the connection is answered from it: ZooKeeper's "watch event before the new state".
 */
function znodeHandlers(tree: MetadataZnodeTree): Handlers {
  const sessions = new Map<number, ZnodeSession>();

  tree.onChange(
    (_snapshot, changes) => {
      if (sessions.size === 0 || changes.length === 0) return;
      const current = tree.current();
      const offset = current.image.provenance.offset;
      const zxid = current.zxid.toString();
      for (const zs of sessions.values()) {
        const oneShot: ZnodeWatchEvent[] = [];
        const persistent: ZnodeWatchEvent[] = [];
        for (const change of changes) {
          const { path, kind } = change;
          const type = EVENT_TYPE[kind];
          // One-shot: each watch fires once and is gone (Set.delete says whether it was there).
          let hit: boolean;
          if (kind === 'created') hit = zs.exist.delete(path);
          else if (kind === 'deleted')
            hit = [zs.data, zs.child, zs.exist].map((w) => w.delete(path)).includes(true);
          else if (kind === 'data') hit = zs.data.delete(path);
          else hit = zs.child.delete(path);
          if (hit) oneShot.push({ type, path, offset, zxid });
          for (const [tag, w] of zs.persistent) {
            const inside = w.recursive && (w.path === '/' || path.startsWith(`${w.path}/`));
            if (path !== w.path && !inside) continue;
            // ZooKeeper's recursive watches leave child-list changes out (creations and deletions say it).
            if (w.recursive && kind === 'children') continue;
            persistent.push({ type, path, offset, zxid, tag });
          }
        }
        const events = [...oneShot, ...persistent];
        if (events.length === 0) continue;
        const frame: ZnodeEventFrame = { watch: zs.channel, events };
        // Same framing as a metadata EventFrame (routed by `watch` id); only the events differ.
        zs.session.push(frame as unknown as EventFrame);
      }
    },
    () => sessions.size > 0,
  );

  const sessionOf = (session: Session, create: boolean): ZnodeSession | undefined => {
    let zs = sessions.get(session.id);
    if (zs === undefined && create) {
      zs = {
        // Distinct from metadata watch ids (session.id * 1e6 + random below 1e6): negative.
        channel: -session.id,
        data: new Set(),
        exist: new Set(),
        child: new Set(),
        persistent: new Map(),
        session,
      };
      sessions.set(session.id, zs);
      session.onClose(() => sessions.delete(session.id));
    }
    return zs;
  };

  /** The session's znode state for a read that sets a watch; the channel must be open. */
  const watching = (session: Session, watch: boolean | undefined): ZnodeSession | undefined => {
    if (watch !== true) return undefined;
    const zs = sessionOf(session, false);
    if (zs === undefined) {
      throw new NodeError('INVALID_REQUEST', 'open the znode channel (znodeSession) before setting watches');
    }
    return zs;
  };

  const position = () => {
    const s = tree.current();
    return { snapshot: s, offset: s.image.provenance.offset, zxid: s.zxid.toString() };
  };

  const noNode = (path: string) => new NodeError(NO_NODE, `znode ${path} does not exist`);

  return {
    znodeSession: (_body, session) => ({ watch: sessionOf(session, true)!.channel }),
    getZnodeData: (body, session) => {
      const path = checkPath(body.path);
      const zs = watching(session, body.watch);
      const { snapshot, offset, zxid } = position();
      const z = snapshot.get(path);
      if (z === undefined) throw noNode(path);
      zs?.data.add(path);
      return { data: z.data, stat: wireStat(z.stat), offset, zxid };
    },
    getZnodeChildren: (body, session) => {
      const path = checkPath(body.path);
      const zs = watching(session, body.watch);
      const { snapshot, offset, zxid } = position();
      const z = snapshot.get(path);
      const children = snapshot.children(path);
      if (z === undefined || children === undefined) throw noNode(path);
      zs?.child.add(path);
      return { children: [...children].sort(), stat: wireStat(z.stat), offset, zxid };
    },
    readZnodes: (body) => {
      if (!Array.isArray(body.paths) || body.paths.length > MAX_READ_ZNODES)
        throw new NodeError('INVALID_REQUEST', `readZnodes takes a list of at most ${MAX_READ_ZNODES} paths`);
      const { snapshot, offset, zxid } = position();
      const znodes = body.paths.map((p) => {
        const path = checkPath(p);
        const z = snapshot.get(path);
        if (z === undefined) return null;
        const children = body.children ? snapshot.children(path) : undefined;
        return {
          data: z.data,
          stat: wireStat(z.stat),
          ...(children === undefined ? {} : { children: [...children].sort() }),
        };
      });
      return { znodes, offset, zxid };
    },
    znodeExists: (body, session) => {
      const path = checkPath(body.path);
      const zs = watching(session, body.watch);
      const { snapshot, offset, zxid } = position();
      const z = snapshot.get(path);
      if (zs !== undefined) (z === undefined ? zs.exist : zs.data).add(path);
      return { stat: z === undefined ? null : wireStat(z.stat), offset, zxid };
    },
    addZnodeWatch: (body, session) => {
      const path = checkPath(body.path);
      if (typeof body.tag !== 'number')
        throw new NodeError('INVALID_REQUEST', 'a znode watch needs a numeric tag');
      const zs = sessionOf(session, false);
      if (zs === undefined) {
        throw new NodeError(
          'INVALID_REQUEST',
          'open the znode channel (znodeSession) before setting watches',
        );
      }
      zs.persistent.set(body.tag, { path, recursive: body.recursive === true });
      const { offset, zxid } = position();
      return { offset, zxid };
    },
    removeZnodeWatch: (body, session) => {
      sessionOf(session, false)?.persistent.delete(body.tag);
      return {};
    },
  };
}

const kind = (t: ConfigResourceKind) =>
  t === 'topic' ? ConfigResourceType.Topic : ConfigResourceType.Broker;

/**
 * The client API of a node. Reads are served from the local image; controller operations run here when
 * this node is the active controller, and are forwarded to it otherwise (found through the Raft leader
 * id and its RegisterController endpoint). Quorum operations need the Raft leader likewise.
 */
export function nodeHandlers(ctx: ServiceContext): Handlers {
  const offsetNow = () => ctx.image().provenance.offset;

  /** Where the active controller serves requests, or a retriable NOT_CONTROLLER when unknown. */
  const controllerEndpoint = (): Endpoint => {
    const leaderId = ctx.raft.status().leaderId;
    const endpoint = describeCluster(ctx.image(), leaderId).controllerEndpoint;
    if (leaderId <= 0 || endpoint === null) {
      throw new NodeError('NOT_CONTROLLER', 'no active controller is known yet; retry', true, leaderId);
    }
    const self = ctx.self();
    if (endpoint.host === self.host && endpoint.port === self.port) {
      // The image says we are it, but our controller is not active (yet, or any more).
      throw new NodeError('NOT_CONTROLLER', 'the controller is changing; retry', true, leaderId);
    }
    return { host: endpoint.host, port: endpoint.port };
  };

  /** Runs `local` on the active controller, or forwards the request to it. */
  const viaController =
    <A extends ApiName>(
      api: A,
      local: (c: MetadataController, body: ApiRequest<A>) => Promise<ApiResponse<A>>,
    ) =>
    async (body: ApiRequest<A>, _s: unknown, deadline: { timeoutMs: number }): Promise<ApiResponse<A>> => {
      const c = ctx.controller;
      if (c?.isActive()) return local(c, body);
      return ctx.channel.call(controllerEndpoint(), api, body, deadline.timeoutMs);
    };

  /** Quorum operations run on the Raft leader. */
  const viaLeader =
    <A extends ApiName>(api: A, local: (body: ApiRequest<A>) => Promise<ApiResponse<A>>) =>
    async (body: ApiRequest<A>, _s: unknown, deadline: { timeoutMs: number }): Promise<ApiResponse<A>> => {
      if (ctx.raft.status().role === 'leader') return local(body);
      return ctx.channel.call(controllerEndpoint(), api, body, deadline.timeoutMs);
    };

  const handlers: Handlers = {
    hello: (body) => {
      if (body.clusterId !== undefined && body.clusterId !== '' && body.clusterId !== ctx.clusterId) {
        throw new NodeError(
          'INCONSISTENT_CLUSTER_ID',
          `this node belongs to cluster ${ctx.clusterId}, not ${body.clusterId}`,
        );
      }
      return {
        protocolVersion: PROTOCOL_VERSION,
        clusterId: ctx.clusterId,
        nodeId: ctx.nodeId,
        roles: ctx.roles,
      };
    },
    describeCluster: () => {
      const d = describeCluster(ctx.image(), ctx.raft.status().leaderId);
      return {
        clusterId: d.clusterId || ctx.clusterId,
        controllerId: d.controllerId,
        controllerEndpoint:
          d.controllerEndpoint === null
            ? null
            : { host: d.controllerEndpoint.host, port: d.controllerEndpoint.port },
        brokers: d.brokers.map((b) => ({
          id: b.id,
          epoch: b.epoch,
          host: b.endpoints[0]?.host ?? '',
          port: b.endpoints[0]?.port ?? 0,
          rack: b.rack,
          fenced: b.fenced,
          inControlledShutdown: b.inControlledShutdown,
        })),
        metadataOffset: d.metadataOffset,
      };
    },
    listTopics: () => ({ topics: listTopics(ctx.image()) }),
    describeTopics: (body) => ({ topics: describeTopics(ctx.image(), body.names) }),
    describeConfigs: (body) => ({
      resources: body.resources.map((r) => {
        const image = ctx.image();
        if (r.resourceType === 'topic' && image.topics.byName(r.resourceName) === undefined) {
          return {
            ...r,
            configs: {},
            errorCode: 3,
            errorMessage: `Topic ${r.resourceName} does not exist.`,
            error: 'UNKNOWN_TOPIC_OR_PARTITION',
          };
        }
        return {
          ...r,
          configs: describeConfigs(image, kind(r.resourceType), r.resourceName),
          errorCode: 0,
          errorMessage: null,
          error: null,
        };
      }),
    }),
    fetchOffsets: (body) => ({ offsets: fetchOffsets(ctx.image(), body.groupId, body.topics) }),
    listGroups: () => ({ groups: listGroups(ctx.image()) }),
    metadataStatus: (body) => {
      const s = ctx.raft.status();
      const image = ctx.image();
      return {
        offset: image.provenance.offset,
        caughtUp: s.lastApplied >= s.commitIndex && s.leaderId > 0,
        fenced: ctx.brokerFenced(),
        ...(body.digest === true ? { digest: imageDigest(image) } : {}),
      };
    },

    createTopics: viaController('createTopics', async (c, body) => ({
      topics: await c.createTopics(
        body.topics.map((t) => ({
          name: t.name,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          assignments: t.assignments,
          configs: t.configs,
        })),
        body.validateOnly ?? false,
      ),
      offset: offsetNow(),
    })),
    deleteTopics: viaController('deleteTopics', async (c, body) => ({
      topics: await c.deleteTopics(body),
      offset: offsetNow(),
    })),
    createPartitions: viaController('createPartitions', async (c, body) => ({
      topics: await c.createPartitions(body.topics, body.validateOnly ?? false),
      offset: offsetNow(),
    })),
    alterConfigs: viaController('alterConfigs', async (c, body) => ({
      resources: (
        await c.alterConfigs(
          body.resources.map((r) => ({
            resourceType: kind(r.resourceType),
            resourceName: r.resourceName,
            alterations: r.alterations,
          })),
          body.validateOnly ?? false,
        )
      ).map((r, i) => ({ ...r, resourceType: body.resources[i]!.resourceType })),
      offset: offsetNow(),
    })),
    commitOffsets: viaController('commitOffsets', async (c, body) => ({
      offsets: await c.commitOffsets(body.groupId, body.offsets),
      offset: offsetNow(),
    })),
    deleteOffsets: viaController('deleteOffsets', async (c, body) => {
      await c.deleteOffsets(body.groupId, body.topic, body.partition);
      return { offset: offsetNow() };
    }),
    electLeaders: viaController('electLeaders', async (c, body) => ({
      results: await c.electLeaders(body.type === 'unclean' ? 'UNCLEAN' : 'PREFERRED', body.partitions),
      offset: offsetNow(),
    })),
    migrateBatch: viaController('migrateBatch', async (c, body) => {
      const r = await c.migrateBatch({ ...body, records: body.records as never });
      return { applied: r.applied, state: r.state, offset: offsetNow() };
    }),
    migrationStatus: () => ({
      state: ctx.image().migration ?? null,
      clusterId: ctx.image().cluster.clusterId || ctx.clusterId,
      offset: offsetNow(),
    }),
    registerBroker: viaController('registerBroker', async (c, body) => {
      if (body.clusterId !== ctx.clusterId) {
        throw new NodeError(
          'INCONSISTENT_CLUSTER_ID',
          `broker ${body.brokerId} belongs to cluster ${body.clusterId}, not ${ctx.clusterId}`,
        );
      }
      return c.registerBroker({
        brokerId: body.brokerId,
        incarnationId: body.incarnationId,
        endpoints: body.endpoints,
        rack: body.rack,
      });
    }),
    brokerHeartbeat: viaController('brokerHeartbeat', (c, body) => c.brokerHeartbeat(body)),
    zkSessionCreate: viaController('zkSessionCreate', (c, body) => c.createZkSession(body)),
    zkSessionAttach: viaController('zkSessionAttach', (c, body) => c.attachZkSession(body)),
    zkSessionClose: viaController('zkSessionClose', (c, body) => c.closeZkSession(body.sessionId)),
    zkSessionHeartbeat: viaController('zkSessionHeartbeat', (c, body) =>
      c.zkSessionHeartbeat(body.sessionIds),
    ),
    alterPartition: viaController('alterPartition', (c, body) =>
      c.alterPartition({ ...body, leaderRecoveryState: 0 }),
    ),
    alterPartitions: viaController('alterPartitions', (c, body) => {
      if (!Array.isArray(body.partitions))
        throw new NodeError('INVALID_REQUEST', 'alterPartitions needs a list of partitions');
      return c.alterPartitions({
        brokerId: body.brokerId,
        brokerEpoch: body.brokerEpoch,
        partitions: body.partitions.map((p) => ({ ...p, leaderRecoveryState: 0 })),
      });
    }),

    describeQuorum: viaLeader('describeQuorum', async () =>
      describeQuorum(ctx.raft.status(), ctx.clusterId, ctx.now()),
    ),
    addVoter: viaLeader('addVoter', async (body) => {
      await ctx.raft.addVoter({ id: body.nodeId, address: body.address });
      return { voters: ctx.raft.status().voters };
    }),
    removeVoter: viaLeader('removeVoter', async (body) => {
      await ctx.raft.removeVoter(body.nodeId);
      return { voters: ctx.raft.status().voters };
    }),

    watch: (body, session) => {
      const watchId = session.id * 1_000_000 + Math.floor(Math.random() * 1_000_000);
      let closed = false;
      // The client learns the watch id from this request's response: frames for the watch (its
      // backlog first) must not reach it before that response, which is written once this handler
      // returns. So they are held until the next turn of the event loop, then sent in order.
      let held: EventFrame[] | undefined = [];
      const push = (frame: EventFrame) => {
        if (closed) return;
        if (held !== undefined) held.push(frame);
        else session.push(frame);
      };
      setImmediate(() => {
        const frames = held ?? [];
        held = undefined;
        for (const f of frames) if (!closed) session.push(f);
      });
      const stop = ctx.watches.subscribe(
        body.fromOffset,
        (events) => push({ watch: watchId, events }),
        // The watcher learns through a watch-scoped error event, then re-reads the state.
        (err) =>
          push({ watch: watchId, events: [], error: { code: 'OFFSET_OUT_OF_RANGE', message: err.message } }),
      );
      session.onClose(() => {
        closed = true;
        stop();
      });
      watchStops.set(watchId, () => {
        closed = true;
        stop();
      });
      return { watch: watchId, offset: offsetNow() };
    },
    unwatch: (body) => {
      watchStops.get(body.watch)?.();
      watchStops.delete(body.watch);
      return {};
    },
    ...znodeHandlers(ctx.znodes),
  };
  const watchStops = new Map<number, () => void>();
  for (const api of CONTROLLER_APIS) {
    if (handlers[api] === undefined)
      throw new ControllerError('UNKNOWN_SERVER_ERROR', `no handler for ${api}`);
  }
  return withLinearizableReads(handlers, {
    raft: ctx.raft,
    appliedOffset: offsetNow,
    forward: (api, body, timeoutMs) => ctx.channel.call(controllerEndpoint(), api, body, timeoutMs),
  });
}
