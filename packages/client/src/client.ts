/**
 * `Kbroker`, the entry point: `new Kbroker({ brokers })`, then `admin()`, `offsets()`, `metadata()`,
 * `znodes()` and `rpc()`.
 *
 * Connections: each `admin()` owns its own cluster connections (opened lazily or by `connect()`,
 * closed by its `disconnect()`, as in kafkajs). `offsets()`, `metadata()`, `znodes()` and `rpc()` share the
 * client's connections, opened lazily and closed by `Kbroker.disconnect()`, which also closes every
 * watch and every admin created from the client.
 */
import type {
  Admin,
  ClusterDescription,
  ConfigResourceTypes,
  ITopicConfig,
  KbrokerConfig,
  Metadata,
  MetadataWatch,
  Offsets,
  Rpc,
  TopicMetadata,
  WatchOptions,
  Znodes,
} from './api.js';
import { Cluster, type ClusterConfig, resolveConfig } from './cluster.js';
import { fromItem, InvalidRequestError, RequestTimeoutError } from './errors.js';
import type { ApiName, ApiRequest, ApiResponse, ItemResult, QuorumInfo, TopicInfo } from './protocol.js';
import { Watch } from './watch.js';
import { KbrokerZnodes } from './znodes.js';

/** First and largest pause between two `describeTopics` polls while waiting for leaders. */
const LEADER_POLL_INITIAL_MS = 50;
const LEADER_POLL_MAX_MS = 1000;

/** A kbroker client. Cheap to create; it connects only when used. */
export class Kbroker {
  private readonly config: ClusterConfig;
  /** The connections of `offsets()`, `metadata()` and `rpc()`. */
  private readonly shared: Cluster;
  private readonly admins = new Set<Cluster>();
  private readonly watches = new Set<Watch>();
  private znodeHandle: KbrokerZnodes | undefined;

  /** Validates `config` (throws `InvalidRequestError` when unusable); does not connect. */
  constructor(config: KbrokerConfig) {
    this.config = resolveConfig(config);
    this.shared = new Cluster(this.config);
  }

  /** An admin client with its own connections (kafkajs's `kafka.admin()`). */
  admin(): Admin {
    const cluster = new Cluster(this.config);
    this.admins.add(cluster);
    return new KbrokerAdmin(cluster);
  }

  /** Committed consumer-group offsets, on the shared connections. */
  offsets(): Offsets {
    return new KbrokerOffsets(this.shared);
  }

  /** Metadata watches, on the shared connections. */
  metadata(): Metadata {
    return {
      watch: (options: WatchOptions = {}): MetadataWatch => {
        const watch = new Watch(this.shared, options, (w) => this.watches.delete(w));
        this.watches.add(watch);
        return watch;
      },
    };
  }

  /**
   * Kafka's ZooKeeper znode tree of the metadata (`/brokers/ids`, `/brokers/topics/<t>`, ...): reads,
   * one-shot watches and persistent watches, on the shared connections. One handle per client (its
   * one-shot watches belong to the connection it reads on), returned by every call.
   */
  znodes(): Znodes {
    this.znodeHandle ??= new KbrokerZnodes(this.shared);
    return this.znodeHandle;
  }

  /** Any API of the protocol, with the client's routing and retries, on the shared connections. */
  rpc(): Rpc {
    return {
      request: <A extends ApiName>(
        api: A,
        body: ApiRequest<A>,
        options: { timeoutMs?: number } = {},
      ): Promise<ApiResponse<A>> => this.shared.request(api, body, options),
    };
  }

  /** Connects the shared connections now (otherwise the first request does), learning the cluster. */
  connect(): Promise<void> {
    return this.shared.connect();
  }

  /**
   * Closes every watch, admin and shared connection of this client. Pending requests reject with
   * `ConnectionError`; once this resolves the client holds no socket or timer. The client may be used
   * again afterwards (it reconnects).
   */
  async disconnect(): Promise<void> {
    await Promise.all([...this.watches].map((w) => w.close()));
    await this.znodeHandle?.close();
    // Admins stay tracked: one used again after this reconnects, and a later disconnect closes it too.
    await Promise.all([this.shared, ...this.admins].map((c) => c.disconnect()));
  }
}

/** Throws the first failed item's typed error (the message names the item). */
function throwIfFailed<T extends ItemResult>(items: readonly T[], name: (item: T) => string): void {
  for (const item of items) {
    const error = fromItem(item, name(item));
    if (error !== undefined) throw error;
  }
}

function toTopicMetadata(t: TopicInfo): TopicMetadata {
  return {
    name: t.name,
    topicId: t.topicId ?? '',
    partitions: t.partitions.map((p) => ({
      partitionId: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      replicas: p.replicas,
      isr: p.isr,
    })),
  };
}

/** The `createTopics` request entry of a kafkajs-style topic config. */
function toCreatableTopic(t: ITopicConfig): ApiRequest<'createTopics'>['topics'][number] {
  const configs =
    t.configEntries === undefined
      ? undefined
      : Object.fromEntries(t.configEntries.map((c) => [c.name, c.value]));
  // An explicit assignment fixes both counts, so they are sent as -1 (Kafka's rule).
  if (t.replicaAssignment !== undefined && t.replicaAssignment.length > 0) {
    return {
      name: t.topic,
      numPartitions: -1,
      replicationFactor: -1,
      assignments: t.replicaAssignment.map((a) => ({ partitionIndex: a.partition, brokerIds: a.replicas })),
      ...(configs === undefined ? {} : { configs }),
    };
  }
  return {
    name: t.topic,
    numPartitions: t.numPartitions ?? -1,
    replicationFactor: t.replicationFactor ?? -1,
    ...(configs === undefined ? {} : { configs }),
  };
}

/** `Admin` over one cluster. */
class KbrokerAdmin implements Admin {
  constructor(private readonly cluster: Cluster) {}

  connect(): Promise<void> {
    return this.cluster.connect();
  }

  disconnect(): Promise<void> {
    return this.cluster.disconnect();
  }

  /**
   * Creates topics; true when all were created, false when at least one already existed (the others
   * were created), and any other per-topic error throws its typed error. `timeout` (default: the
   * request timeout) bounds the request and, separately, the wait for leaders. Not retried after an
   * unknown outcome (see `Cluster`): a retriable error (ConnectionError, RequestTimeoutError,
   * NotControllerError) may mean the topics were created anyway.
   */
  async createTopics(options: {
    topics: readonly ITopicConfig[];
    waitForLeaders?: boolean;
    validateOnly?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    const timeoutMs = options.timeout ?? this.cluster.config.requestTimeoutMs;
    const res = await this.cluster.request(
      'createTopics',
      {
        topics: options.topics.map(toCreatableTopic),
        ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
      },
      { timeoutMs },
    );
    let allCreated = true;
    const created: { name: string; numPartitions: number }[] = [];
    for (const t of res.topics) {
      const error = fromItem(t, `topic '${t.name}'`);
      if (error === undefined) created.push({ name: t.name, numPartitions: t.numPartitions });
      else if (error.code === 'TOPIC_ALREADY_EXISTS') allCreated = false;
      else throw error;
    }
    if ((options.waitForLeaders ?? true) && options.validateOnly !== true && created.length > 0) {
      await this.waitForLeaders(created, timeoutMs);
    }
    return allCreated;
  }

  /**
   * Polls `describeTopics` (on the sticky broker, the one reads go to) until every partition of
   * `topics` exists there with a leader, or throws `RequestTimeoutError` after `timeoutMs`.
   */
  private async waitForLeaders(
    topics: readonly { name: string; numPartitions: number }[],
    timeoutMs: number,
  ): Promise<void> {
    const epoch = this.cluster.currentEpoch;
    const deadline = Date.now() + timeoutMs;
    const names = topics.map((t) => t.name);
    let pause = LEADER_POLL_INITIAL_MS;
    for (;;) {
      const res = await this.cluster.request('describeTopics', { names });
      const waiting = topics.filter((want) => {
        const got = res.topics.find((t) => t.name === want.name);
        // Not yet in the broker's image (an UNKNOWN_TOPIC result) counts as waiting, not as an error.
        if (got === undefined || got.errorCode !== 0) return true;
        if (want.numPartitions > 0 && got.partitions.length < want.numPartitions) return true;
        return got.partitions.length === 0 || got.partitions.some((p) => p.leader < 0);
      });
      if (waiting.length === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new RequestTimeoutError(
          `topics without a leader for every partition after ${timeoutMs} ms: ${waiting.map((t) => t.name).join(', ')}`,
        );
      }
      await this.cluster.sleep(Math.min(pause, left), epoch);
      pause = Math.min(pause * 2, LEADER_POLL_MAX_MS);
    }
  }

  /** Deletes topics by name; any per-topic error (UNKNOWN_TOPIC_OR_PARTITION, ...) throws. */
  async deleteTopics(options: { topics: readonly string[]; timeout?: number }): Promise<void> {
    const res = await this.cluster.request(
      'deleteTopics',
      { names: options.topics },
      { timeoutMs: options.timeout ?? this.cluster.config.requestTimeoutMs },
    );
    throwIfFailed(res.topics, (t) => `topic '${t.name ?? t.topicId}'`);
  }

  /** Names of every topic. */
  async listTopics(): Promise<string[]> {
    const res = await this.cluster.request('listTopics', {});
    return res.topics.map((t) => t.name);
  }

  /** Topics with partitions; a named topic that does not exist throws `UnknownTopicOrPartitionError`. */
  async describeTopics(options: { topics?: readonly string[] } = {}): Promise<{ topics: TopicMetadata[] }> {
    const res = await this.cluster.request(
      'describeTopics',
      options.topics === undefined ? {} : { names: options.topics },
    );
    throwIfFailed(res.topics, (t) => `topic '${t.name}'`);
    return { topics: res.topics.map(toTopicMetadata) };
  }

  /** Same as `describeTopics`. */
  fetchTopicMetadata(options: { topics?: readonly string[] } = {}): Promise<{ topics: TopicMetadata[] }> {
    return this.describeTopics(options);
  }

  /** Grows topics to `count` partitions; true on success, per-topic errors throw. */
  async createPartitions(options: {
    topicPartitions: readonly {
      topic: string;
      count: number;
      assignments?: readonly (readonly number[])[];
    }[];
    validateOnly?: boolean;
  }): Promise<boolean> {
    const res = await this.cluster.request('createPartitions', {
      topics: options.topicPartitions.map((t) => ({
        name: t.topic,
        count: t.count,
        ...(t.assignments === undefined ? {} : { assignments: t.assignments }),
      })),
      ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
    });
    throwIfFailed(res.topics, (t) => `topic '${t.name}'`);
    return true;
  }

  /** Configs of topics or brokers, limited to `configNames` when given; per-resource errors throw. */
  async describeConfigs(options: {
    resources: readonly { type: ConfigResourceTypes; name: string; configNames?: readonly string[] }[];
  }): Promise<{
    resources: {
      resourceType: ConfigResourceTypes;
      resourceName: string;
      configEntries: { configName: string; configValue: string }[];
    }[];
  }> {
    const res = await this.cluster.request('describeConfigs', {
      resources: options.resources.map((r) => ({ resourceType: r.type, resourceName: r.name })),
    });
    throwIfFailed(res.resources, (r) => `${r.resourceType} '${r.resourceName}'`);
    return {
      resources: res.resources.map((r) => {
        const wanted = options.resources.find((o) => o.type === r.resourceType && o.name === r.resourceName);
        const only = wanted?.configNames === undefined ? undefined : new Set(wanted.configNames);
        return {
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configEntries: Object.entries(r.configs ?? {})
            .filter(([name]) => only === undefined || only.has(name))
            .map(([configName, configValue]) => ({ configName, configValue })),
        };
      }),
    };
  }

  /** Incremental: sets the given entries (value null deletes one); per-resource errors throw. */
  async alterConfigs(options: {
    resources: readonly {
      type: ConfigResourceTypes;
      name: string;
      configEntries: readonly { name: string; value: string | null }[];
    }[];
    validateOnly?: boolean;
  }): Promise<void> {
    const res = await this.cluster.request('alterConfigs', {
      resources: options.resources.map((r) => ({
        resourceType: r.type,
        resourceName: r.name,
        alterations: r.configEntries.map((e) =>
          e.value === null
            ? { name: e.name, op: 'delete' as const }
            : { name: e.name, op: 'set' as const, value: e.value },
        ),
      })),
      ...(options.validateOnly === undefined ? {} : { validateOnly: options.validateOnly }),
    });
    throwIfFailed(res.resources, (r) => `${r.resourceType} '${r.resourceName}'`);
  }

  /** Cluster id, active controller id and brokers. */
  async describeCluster(): Promise<ClusterDescription> {
    const res = await this.cluster.request('describeCluster', {});
    return {
      clusterId: res.clusterId,
      controller: res.controllerId,
      brokers: res.brokers.map((b) => ({
        nodeId: b.id,
        host: b.host,
        port: b.port,
        rack: b.rack,
        fenced: b.fenced,
        inControlledShutdown: b.inControlledShutdown,
      })),
    };
  }

  /** The quorum's status and replication (answered by the Raft leader). */
  describeQuorum(): Promise<QuorumInfo> {
    return this.cluster.request('describeQuorum', {});
  }

  /** Adds a voter to the controller quorum. Not retried after an unknown outcome. */
  async addVoter(options: { nodeId: number; address: string }): Promise<void> {
    await this.cluster.request('addVoter', { nodeId: options.nodeId, address: options.address });
  }

  /** Removes a voter from the controller quorum. Not retried after an unknown outcome. */
  async removeVoter(options: { nodeId: number }): Promise<void> {
    await this.cluster.request('removeVoter', { nodeId: options.nodeId });
  }

  /**
   * Elects leaders (preferred by default) for the given partitions or all; per-partition outcomes are
   * returned (`error` null on success, e.g. ELECTION_NOT_NEEDED otherwise), not thrown.
   */
  async electLeaders(
    options: {
      preferred?: boolean;
      topicPartitions?: readonly { topic: string; partitions: readonly number[] }[];
    } = {},
  ): Promise<{ topic: string; partition: number; error: string | null }[]> {
    const res = await this.cluster.request('electLeaders', {
      type: options.preferred === false ? 'unclean' : 'preferred',
      ...(options.topicPartitions === undefined ? {} : { partitions: options.topicPartitions }),
    });
    return res.results.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      error: r.errorCode === 0 && r.error === null ? null : (r.error ?? fromItem(r)?.code ?? null),
    }));
  }
}

/** Parses a committed offset given as a number or a kafkajs-style decimal string. */
function toOffset(value: number | string, where: string): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < -1) {
    throw new InvalidRequestError('INVALID_REQUEST', `${where}: invalid offset ${JSON.stringify(value)}`);
  }
  return n;
}

/** `Offsets` over one cluster. */
class KbrokerOffsets implements Offsets {
  constructor(private readonly cluster: Cluster) {}

  /** Commits offsets (numbers or decimal strings); any per-partition error throws. */
  async commit(
    groupId: string,
    offsets: readonly { topic: string; partition: number; offset: number | string; metadata?: string }[],
  ): Promise<void> {
    const res = await this.cluster.request('commitOffsets', {
      groupId,
      offsets: offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: toOffset(o.offset, `${o.topic}-${o.partition}`),
        ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
      })),
    });
    throwIfFailed(res.offsets, (o) => `group '${groupId}' ${o.topic}-${o.partition}`);
  }

  /** The group's committed offsets, for the given topics or all. */
  async fetch(
    groupId: string,
    topics?: readonly string[],
    options: { linearizable?: boolean } = {},
  ): Promise<{ topic: string; partition: number; offset: number; metadata: string }[]> {
    const res = await this.cluster.request('fetchOffsets', {
      groupId,
      ...(topics === undefined ? {} : { topics }),
      ...(options.linearizable === true ? { linearizable: true } : {}),
    });
    return res.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      metadata: o.metadata,
    }));
  }

  /** Every group with committed offsets. */
  async listGroups(): Promise<{ groupId: string; partitions: number }[]> {
    const res = await this.cluster.request('listGroups', {});
    return res.groups.map((g) => ({ groupId: g.groupId, partitions: g.partitions }));
  }

  /** Deletes all of a group's committed offsets. Not retried after an unknown outcome. */
  async deleteGroup(groupId: string): Promise<void> {
    await this.cluster.request('deleteOffsets', { groupId });
  }
}
