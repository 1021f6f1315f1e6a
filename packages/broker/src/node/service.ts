import type {
  ApiName,
  ApiRequest,
  ApiResponse,
  ConfigResourceKind,
  Endpoint,
  EventFrame,
} from '@kbroker/client/protocol';
import { CONTROLLER_APIS, PROTOCOL_VERSION } from '@kbroker/client/protocol';
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
import { NodeError } from './errors.js';
import type { Handlers } from './rpc-server.js';
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
  /** This node's own client endpoint (never forward to it). */
  readonly self: () => Endpoint;
  /** The broker lifecycle's view: is this broker fenced (null for controller-only nodes)? */
  readonly brokerFenced: () => boolean | null;
  readonly now: () => number;
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
    metadataStatus: () => {
      const s = ctx.raft.status();
      return {
        offset: offsetNow(),
        caughtUp: s.lastApplied >= s.commitIndex && s.leaderId > 0,
        fenced: ctx.brokerFenced(),
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
    alterPartition: viaController('alterPartition', (c, body) =>
      c.alterPartition({ ...body, leaderRecoveryState: 0 }),
    ),

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
  };
  const watchStops = new Map<number, () => void>();
  for (const api of CONTROLLER_APIS) {
    if (handlers[api] === undefined)
      throw new ControllerError('UNKNOWN_SERVER_ERROR', `no handler for ${api}`);
  }
  return handlers;
}
