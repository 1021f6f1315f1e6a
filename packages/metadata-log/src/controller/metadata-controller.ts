import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { MetadataImageView } from '../image/types.js';
import { type ConfigResourceType, type Endpoint, type MetadataRecord, RecordType } from '../records.js';
import { mathRandom, type RandomSource, type TopicDefaults } from './assignment.js';
import { ControllerError } from './errors.js';
import * as h from './handlers.js';
import {
  BrokerHeartbeatTracker,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  registrationState,
} from './heartbeats.js';
import { type MigrationBatchRequest, type MigrationBatchResponse, migrateBatch } from './migration.js';
import type { ElectionScope } from './partition-change.js';
import { preferredElectionChanges } from './partition-change.js';
import {
  type BatchReplayer,
  type CommittedImageSource,
  type ControllerRaft,
  type ControllerResult,
  QuorumController,
} from './quorum-controller.js';
import {
  attachZkSession,
  createZkSession,
  endZkSessions,
  formatSessionId,
  ZkSessionTracker,
} from './zk-sessions.js';

export const CONTROLLER_DEFAULTS = {
  /** Kafka's broker.session.timeout.ms. */
  sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
  /** Kafka's broker.heartbeat.interval.ms (advised to brokers). */
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  /** Kafka's metadata.max.idle.interval.ms: an idle controller writes a NoOp this often (0 disables). */
  noOpIntervalMs: 500,
  /** How often leadership is moved back to preferred replicas (Kafka checks every 300 s; 0 disables). */
  preferredElectionIntervalMs: 5_000,
  /** Kafka's num.partitions and default.replication.factor. */
  defaultPartitions: 1,
  defaultReplicationFactor: 1,
};

export interface MetadataControllerOptions extends Partial<typeof CONTROLLER_DEFAULTS> {
  readonly raft: ControllerRaft;
  readonly committed: CommittedImageSource;
  readonly replay: BatchReplayer;
  /** Written into the log by the first active controller of an empty log. */
  readonly clusterId: string;
  /** Feature levels written at bootstrap (e.g. metadata.version). */
  readonly features?: ReadonlyMap<string, number>;
  /** Where this node serves controller requests; registered (RegisterControllerRecord) on activation. */
  readonly controllerEndpoints?: readonly Endpoint[];
  readonly nowMs?: () => number;
  readonly random?: RandomSource;
  readonly logger?: Logger;
  readonly writeTimeoutMs?: number;
  /** See QuorumControllerOptions.maxRecordsPerBatch. */
  readonly maxRecordsPerBatch?: number;
}

export interface HeartbeatRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly currentMetadataOffset: number;
  readonly wantFence: boolean;
  readonly wantShutDown: boolean;
}

export interface HeartbeatResponse {
  readonly isCaughtUp: boolean;
  readonly isFenced: boolean;
  readonly inControlledShutdown: boolean;
  readonly shouldShutDown: boolean;
}

/**
 * The metadata controller's operations, run on the active controller. Writes go through one
 * QuorumController queue; broker liveness (heartbeats, session expiry) is soft state kept only here,
 * rebuilt as "everyone just heard from" whenever this node becomes the active controller, as KRaft.
 * `tick()` drives time: the host calls it periodically (and tests call it with a fake clock).
 */
export class MetadataController {
  readonly quorum: QuorumController;
  private readonly opts: MetadataControllerOptions;
  private readonly cfg: typeof CONTROLLER_DEFAULTS;
  private readonly nowMs: () => number;
  private readonly random: RandomSource;
  private readonly tracker: BrokerHeartbeatTracker;
  private readonly zkSessions = new ZkSessionTracker();
  /** Session ids are (term << 32 | counter): unique, since a term has one controller and it counts up. */
  private zkSessionTerm = -1;
  private zkSessionCounter = 0;
  private lastWriteMs = 0;
  private lastPreferredCheckMs = 0;
  private ticking = false;

  constructor(opts: MetadataControllerOptions) {
    this.opts = opts;
    this.cfg = { ...CONTROLLER_DEFAULTS, ...definedOnly(opts) };
    this.nowMs = opts.nowMs ?? Date.now;
    this.random = opts.random ?? mathRandom;
    this.tracker = new BrokerHeartbeatTracker({ sessionTimeoutMs: this.cfg.sessionTimeoutMs });
    this.quorum = new QuorumController({
      raft: opts.raft,
      committed: opts.committed,
      replay: opts.replay,
      nowMs: this.nowMs,
      logger: opts.logger,
      writeTimeoutMs: opts.writeTimeoutMs,
      maxRecordsPerBatch: opts.maxRecordsPerBatch,
    });
    this.quorum.onActivation((active) => {
      if (active) {
        this.onActive();
      } else {
        this.tracker.clear();
        this.zkSessions.clear();
      }
    });
  }

  get heartbeatIntervalMs(): number {
    return this.cfg.heartbeatIntervalMs;
  }

  isActive(): boolean {
    return this.quorum.isActive();
  }

  close(): void {
    this.quorum.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Brokers

  registerBroker(req: h.RegisterBrokerRequest): Promise<{ brokerEpoch: number }> {
    return this.write('registerBroker', (image, now) => {
      const result = h.registerBroker(image, req, (id) => this.tracker.hasValidSession(id, now));
      this.tracker.register(req.brokerId, now, true);
      return result;
    });
  }

  /**
   * A broker's heartbeat: refreshes its session and moves it through fenced -> unfenced (once it has
   * replayed its own registration) -> controlled shutdown -> shutdown, as Kafka's BrokerHeartbeatManager.
   */
  brokerHeartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.write('brokerHeartbeat', (image, now) => {
      const reg = image.cluster.broker(req.brokerId);
      if (reg === undefined || reg.epoch !== req.brokerEpoch) {
        throw new ControllerError(
          'STALE_BROKER_EPOCH',
          reg === undefined
            ? `No broker registration found for broker ${req.brokerId}`
            : `Expected broker epoch ${reg.epoch}, but got broker epoch ${req.brokerEpoch}`,
        );
      }
      const current = registrationState(reg);
      const next = this.tracker.nextState(req.brokerId, current, req, reg.epoch, () =>
        h.leadsAnyPartition(image, req.brokerId),
      );
      let records: ControllerResult<unknown>['records'] = [];
      if (next === 'UNFENCED' && current === 'FENCED') records = h.unfenceBroker(image, req.brokerId);
      else if (next === 'FENCED' && current !== 'FENCED') records = h.fenceBroker(image, req.brokerId);
      else if (next === 'CONTROLLED_SHUTDOWN') records = h.beginControlledShutdown(image, req.brokerId);
      else if (next === 'SHUTDOWN_NOW' && !reg.fenced) records = h.fenceBroker(image, req.brokerId);
      const fencedAfter = next === 'FENCED' || next === 'SHUTDOWN_NOW';
      this.tracker.touch(req.brokerId, now, fencedAfter, req.currentMetadataOffset);
      const response: HeartbeatResponse = {
        isCaughtUp: req.currentMetadataOffset >= reg.epoch,
        isFenced: fencedAfter,
        inControlledShutdown: next === 'CONTROLLED_SHUTDOWN',
        shouldShutDown: next === 'SHUTDOWN_NOW',
      };
      return {
        records,
        response: (_committed, offset) => {
          if (next === 'CONTROLLED_SHUTDOWN') this.tracker.setControlledShutdownOffset(req.brokerId, offset);
          return response;
        },
        // One change per partition, the registration's first (unfence) or last (fence, shutdown).
        atomic: false,
      };
    });
  }

  unregisterBroker(brokerId: number): Promise<void> {
    return this.write('unregisterBroker', (image) => {
      const result = h.unregisterBroker(image, brokerId);
      this.tracker.remove(brokerId);
      return { ...result, atomic: false };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Topics, partitions, leadership

  createTopics(topics: readonly h.CreatableTopic[], validateOnly = false): Promise<h.CreateTopicsResult[]> {
    const defaults: TopicDefaults = {
      numPartitions: this.cfg.defaultPartitions,
      replicationFactor: this.cfg.defaultReplicationFactor,
    };
    return this.write('createTopics', (image) =>
      h.createTopics(image, topics, { validateOnly, defaults, random: this.random }),
    );
  }

  deleteTopics(req: {
    names?: readonly string[];
    topicIds?: readonly string[];
  }): Promise<h.DeleteTopicsResult[]> {
    return this.write('deleteTopics', (image) => h.deleteTopics(image, req));
  }

  createPartitions(topics: readonly h.CreatePartitionsTopic[], validateOnly = false) {
    return this.write('createPartitions', (image) => h.createPartitions(image, topics, validateOnly));
  }

  alterPartition(req: h.AlterPartitionRequest): Promise<h.AlterPartitionResult> {
    return this.write('alterPartition', (image) => h.alterPartition(image, req));
  }

  /** ISR changes of many partitions from one leader (see handlers.alterPartitions). */
  alterPartitions(req: h.AlterPartitionsRequest): Promise<{ partitions: h.AlterPartitionsItemResult[] }> {
    return this.write('alterPartitions', (image) => h.alterPartitions(image, req));
  }

  electLeaders(
    type: 'PREFERRED' | 'UNCLEAN',
    scope?: readonly ElectionScope[],
  ): Promise<h.ElectLeadersResult[]> {
    return this.write('electLeaders', (image) => ({ ...h.electLeaders(image, type, scope), atomic: false }));
  }

  // ---------------------------------------------------------------------------------------------
  // Configs and offsets

  alterConfigs(resources: readonly h.AlterConfigsResource[], validateOnly = false) {
    return this.write('alterConfigs', (image) => h.alterConfigs(image, resources, validateOnly));
  }

  commitOffsets(groupId: string, entries: readonly h.OffsetCommitEntry[]): Promise<h.OffsetCommitResult[]> {
    return this.write('commitOffsets', (image, now) => h.commitOffsets(image, groupId, entries, now));
  }

  deleteOffsets(groupId: string, topic?: string, partition?: number): Promise<void> {
    return this.write('deleteOffsets', (image) => h.deleteOffsets(image, groupId, topic, partition));
  }

  /** The active controller's (speculative) configs of one resource; reads normally use the local image. */
  describeConfigs(type: ConfigResourceType, name: string): Promise<Record<string, string>> {
    return this.write('describeConfigs', (image) => ({
      records: [],
      response: h.configsOf(image, type, name),
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // ZooKeeper sessions of the ZooKeeper-compatible view

  /** A new session owned by `ownerId`, with an id and a random password chosen here. */
  createZkSession(req: { ownerId: number; timeoutMs: number }) {
    return this.write('createZkSession', (image, now) => {
      const term = this.quorum.epoch();
      if (term !== this.zkSessionTerm) {
        this.zkSessionTerm = term;
        this.zkSessionCounter = 0;
      }
      let sessionId: string;
      do {
        sessionId = formatSessionId((BigInt(term) << 32n) | BigInt(++this.zkSessionCounter));
      } while (image.zkSessions.get(sessionId) !== undefined);
      const result = createZkSession(image, {
        sessionId,
        password: randomBytes(16).toString('hex'),
        timeoutMs: req.timeoutMs,
        ownerId: req.ownerId,
      });
      this.zkSessions.heard(sessionId, req.timeoutMs, now);
      const created = result.response as { sessionId: string; password: string; timeoutMs: number };
      return {
        records: result.records,
        response: (_committed: MetadataImageView, offset: number) => ({ ...created, offset }),
      };
    });
  }

  /** A client reconnected to `ownerId` with its session: validates it and moves it there. */
  attachZkSession(req: { sessionId: string; password: string; ownerId: number; timeoutMs: number }) {
    return this.write('attachZkSession', (image, now) => {
      const result = attachZkSession(image, req);
      const valid = (result.response as { valid: boolean }).valid;
      if (valid) this.zkSessions.heard(req.sessionId, req.timeoutMs, now);
      return {
        records: result.records,
        response: (_committed: MetadataImageView, offset: number) => ({ valid, offset }),
      };
    });
  }

  /** The client closed its session. */
  closeZkSession(sessionId: string) {
    return this.write('closeZkSession', (image) => {
      this.zkSessions.forget(sessionId);
      return {
        records: endZkSessions(image, [sessionId], 'closed'),
        response: (_committed: MetadataImageView, offset: number) => ({ offset }),
      };
    });
  }

  /**
   * A broker's batched report of the sessions its clients were heard on. Answers the ids that are not
   * alive (any more), so the broker can drop their connections.
   */
  zkSessionHeartbeat(sessionIds: readonly string[]): Promise<{ unknown: string[] }> {
    return this.write('zkSessionHeartbeat', (image, now) => ({
      records: [],
      response: { unknown: this.zkSessions.touch(image, sessionIds, now) },
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Migration from ZooKeeper

  /** Applies one batch of a ZooKeeper migration (idempotent by migration id and sequence). */
  migrateBatch(req: MigrationBatchRequest): Promise<MigrationBatchResponse> {
    return this.write('migrateBatch', (image, now) => migrateBatch(image, req, now));
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  /**
   * Periodic work of the active controller: fence one broker whose session expired (then the next, on
   * the next tick, as Kafka), move leadership back to preferred replicas, and keep the log moving with a
   * NoOp when idle. Never runs two at once; errors are logged, not thrown.
   */
  async tick(): Promise<void> {
    if (!this.quorum.isActive() || this.ticking) return;
    this.ticking = true;
    try {
      const now = this.nowMs();
      const stale = this.tracker.findOneStaleBroker(now);
      if (stale !== undefined) {
        this.opts.logger?.info({ brokerId: stale }, 'broker session expired; fencing');
        await this.write('fenceStaleBroker', (image) => {
          this.tracker.fence(stale);
          return { records: h.fenceBroker(image, stale), response: undefined, atomic: false };
        });
      }
      await this.write('expireZkSessions', (image) => {
        const expired = this.zkSessions.expired(image, now);
        if (expired.length === 0) return { records: [], response: undefined };
        this.opts.logger?.info({ sessions: expired }, 'ZooKeeper sessions expired');
        for (const id of expired) this.zkSessions.forget(id);
        return { records: endZkSessions(image, expired, 'expired'), response: undefined };
      });
      if (
        this.cfg.preferredElectionIntervalMs > 0 &&
        now - this.lastPreferredCheckMs >= this.cfg.preferredElectionIntervalMs
      ) {
        this.lastPreferredCheckMs = now;
        await this.write('autoPreferredElection', (image) => ({
          records: preferredElectionChanges(image).records,
          response: undefined,
          atomic: false,
        }));
      }
      if (this.cfg.noOpIntervalMs > 0 && now - this.lastWriteMs >= this.cfg.noOpIntervalMs) {
        await this.write('noOp', () => ({ records: h.noOp(), response: undefined }));
      }
    } catch (err) {
      this.opts.logger?.warn({ err }, 'controller tick failed');
    } finally {
      this.ticking = false;
    }
  }

  // ---------------------------------------------------------------------------------------------

  private write<R>(
    name: string,
    handler: (image: MetadataImageView, nowMs: number) => ControllerResult<R>,
  ): Promise<R> {
    return this.quorum.run(name, (image, now) => {
      const result = handler(image, now);
      if (result.records.length > 0) this.lastWriteMs = now;
      return result;
    });
  }

  private onActive(): void {
    const now = this.nowMs();
    this.lastPreferredCheckMs = now;
    // We cannot know when brokers last heartbeated to the previous controller: give all a fresh session.
    this.tracker.clear();
    void this.quorum
      .run('activate', (image) => {
        for (const b of image.cluster.brokers()) this.tracker.register(b.id, now, b.fenced);
        this.zkSessions.restart(image, now);
        const records: MetadataRecord[] =
          image.cluster.clusterId === ''
            ? h.bootstrapRecords(this.opts.clusterId, this.opts.features ?? new Map())
            : [];
        // Register (or update) where this controller serves requests, so brokers can reach it.
        const endpoints = this.opts.controllerEndpoints;
        const registered = image.cluster.controller(this.opts.raft.id)?.endpoints;
        if (endpoints !== undefined && JSON.stringify(registered) !== JSON.stringify(endpoints)) {
          records.push({
            type: RecordType.RegisterController,
            version: 0,
            controllerId: this.opts.raft.id,
            endpoints,
          });
        }
        return { records, response: undefined };
      })
      .catch((err) => this.opts.logger?.warn({ err }, 'controller activation step failed'));
  }
}

function definedOnly(opts: object): Partial<typeof CONTROLLER_DEFAULTS> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(CONTROLLER_DEFAULTS)) {
    const v = (opts as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<typeof CONTROLLER_DEFAULTS>;
}
