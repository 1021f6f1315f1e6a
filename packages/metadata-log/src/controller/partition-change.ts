/**
 * Partition leadership and ISR changes, as Kafka's `PartitionChangeBuilder` (metadata.version >= 3.6,
 * no eligible leader replicas), and the cluster-wide changes built on it: fencing, unfencing,
 * controlled shutdown, unregistration, leader elections and AlterPartition.
 *
 * Rules (Kafka's):
 * - A *valid* new leader is in the target ISR and acceptable (by default: registered, unfenced and not
 *   in controlled shutdown).
 * - ONLINE keeps a valid current leader, else takes the first valid replica in *replica* order.
 *   PREFERRED takes replicas[0] if valid, else keeps a valid current leader, else the first valid
 *   replica. UNCLEAN is ONLINE, then, if nothing is valid, the first acceptable replica even outside the
 *   ISR; the ISR becomes [that leader] and the leader recovery state RECOVERING (data may be lost).
 * - No candidate: leader -1. The ISR is never written empty: it keeps its last member, so the replica
 *   that holds the latest data stays known and can be elected cleanly when it returns.
 * - Replaying a record whose leader is not -2 bumps the leader epoch. An ISR change that keeps the
 *   leader writes -2 (no bump: followers need not refetch the leader epoch for an ISR shrink), while a
 *   replica set that drops a replica writes the unchanged leader explicitly to force a bump.
 * - A change that would change nothing yields no record.
 */
import type { ClusterImage, MetadataImageView, PartitionRegistration, TopicImage } from '../image/types.js';
import {
  LEADER_UNCHANGED,
  LeaderRecoveryState,
  NO_LEADER,
  type PartitionChangeRecord,
  RecordType,
} from '../records.js';
import { isUsableBroker } from './assignment.js';
import { uncleanElectionAllowedInImage } from './configs.js';
import { ControllerError } from './errors.js';

export type Election = 'ONLINE' | 'PREFERRED' | 'UNCLEAN';

/** The part of a partition's registration the builder reads. */
export type PartitionState = Pick<
  PartitionRegistration,
  'replicas' | 'isr' | 'leader' | 'leaderRecoveryState'
>;

export interface PartitionChangeSpec {
  readonly topicId: string;
  readonly partitionId: number;
  readonly partition: PartitionState;
  /** Whether a broker may lead. A broker being fenced or shut down must answer false. */
  readonly isAcceptableLeader: (brokerId: number) => boolean;
  /** Default: the current ISR. */
  readonly targetIsr?: readonly number[];
  /** Default: the current replicas. */
  readonly targetReplicas?: readonly number[];
  /** Default: the current state. */
  readonly targetLeaderRecoveryState?: LeaderRecoveryState;
  /** Default ONLINE. UNCLEAN is an explicit request (Kafka's ElectLeaders UNCLEAN, regardless of config). */
  readonly election?: Election;
  /** The topic allows unclean election (`unclean.leader.election.enable`): ONLINE may fall back to it. */
  readonly uncleanAllowed?: boolean;
}

/**
 * The PartitionChangeRecord that moves a partition to the target state, or undefined when nothing would
 * change. Refuses a malformed target: an empty or duplicated replica list (INVALID_REPLICA_ASSIGNMENT),
 * a duplicated ISR or an ISR member outside the replicas (INVALID_REQUEST).
 */
export function buildPartitionChange(spec: PartitionChangeSpec): PartitionChangeRecord | undefined {
  const { partition, isAcceptableLeader } = spec;
  const targetReplicas = spec.targetReplicas ?? partition.replicas;
  const targetIsr = spec.targetIsr ?? partition.isr;
  if (spec.targetReplicas !== undefined) checkReplicas(targetReplicas);
  if (spec.targetIsr !== undefined || spec.targetReplicas !== undefined) checkIsr(targetIsr, targetReplicas);

  const election: Election =
    spec.election === undefined || spec.election === 'ONLINE'
      ? spec.uncleanAllowed === true
        ? 'UNCLEAN'
        : 'ONLINE'
      : spec.election;
  const isValid = (r: number) => targetIsr.includes(r) && isAcceptableLeader(r);

  let leader = partition.leader;
  let unclean = false;
  if (election === 'PREFERRED') {
    const preferred = targetReplicas[0];
    if (preferred !== undefined && isValid(preferred)) leader = preferred;
    else if (!isValid(partition.leader)) leader = firstOf(targetReplicas, isValid);
  } else if (!isValid(partition.leader)) {
    leader = firstOf(targetReplicas, isValid);
    if (leader === NO_LEADER && election === 'UNCLEAN') {
      leader = firstOf(targetReplicas, isAcceptableLeader);
      unclean = leader !== NO_LEADER;
    }
  }

  let recordLeader = LEADER_UNCHANGED;
  let isr: readonly number[] | undefined;
  let recoveryState: LeaderRecoveryState | undefined;
  if (leader !== partition.leader) {
    recordLeader = leader;
    if (unclean) {
      isr = [leader];
      if (partition.leaderRecoveryState !== LeaderRecoveryState.Recovering) {
        recoveryState = LeaderRecoveryState.Recovering;
      }
    }
  } else if (unclean) {
    // The current leader was taken out of the target ISR yet is the only acceptable replica. It keeps
    // leading with the ISR [itself]: as the leader it holds every committed record, so nothing is lost
    // and no recovery is needed. (Kafka would write an ISR without its leader here; callers never ask.)
    if (!sameList([leader], partition.isr)) isr = [leader];
  }
  if (recordLeader === LEADER_UNCHANGED && dropsAny(partition.replicas, targetReplicas)) {
    recordLeader = partition.leader;
  }
  if (isr === undefined && targetIsr.length > 0 && !sameList(targetIsr, partition.isr)) isr = [...targetIsr];
  const replicas = sameList(targetReplicas, partition.replicas) ? undefined : [...targetReplicas];
  const targetRecovery = spec.targetLeaderRecoveryState;
  if (
    recoveryState === undefined &&
    targetRecovery !== undefined &&
    targetRecovery !== partition.leaderRecoveryState
  ) {
    recoveryState = targetRecovery;
  }

  if (
    recordLeader === LEADER_UNCHANGED &&
    isr === undefined &&
    replicas === undefined &&
    recoveryState === undefined
  ) {
    return undefined;
  }
  // Absent fields mean "unchanged"; they are omitted, never set to undefined, so the encoded record
  // carries no nils a replayer could mistake for values.
  const record: {
    -readonly [K in keyof PartitionChangeRecord]: PartitionChangeRecord[K];
  } = {
    type: RecordType.PartitionChange,
    version: 0,
    topicId: spec.topicId,
    partitionId: spec.partitionId,
    leader: recordLeader,
  };
  if (isr !== undefined) record.isr = isr;
  if (replicas !== undefined) record.replicas = replicas;
  if (recoveryState !== undefined) record.leaderRecoveryState = recoveryState;
  return record;
}

function firstOf(list: readonly number[], pred: (r: number) => boolean): number {
  for (const r of list) if (pred(r)) return r;
  return NO_LEADER;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function dropsAny(current: readonly number[], target: readonly number[]): boolean {
  for (const r of current) if (!target.includes(r)) return true;
  return false;
}

function checkReplicas(replicas: readonly number[]): void {
  if (replicas.length === 0)
    throw new ControllerError('INVALID_REPLICA_ASSIGNMENT', 'The replica list is empty.');
  for (let i = 0; i < replicas.length; i++) {
    if (replicas.indexOf(replicas[i]!) !== i) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        `The replica list includes broker ${replicas[i]} more than once.`,
      );
    }
  }
}

function checkIsr(isr: readonly number[], replicas: readonly number[]): void {
  for (let i = 0; i < isr.length; i++) {
    const r = isr[i]!;
    if (isr.indexOf(r) !== i)
      throw new ControllerError('INVALID_REQUEST', `The ISR includes broker ${r} more than once.`);
    if (!replicas.includes(r)) {
      throw new ControllerError('INVALID_REQUEST', `The ISR includes broker ${r}, which is not a replica.`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Cluster-wide changes

export interface ClusterChangeOptions {
  /** Whether a topic allows unclean election. Default: its effective `unclean.leader.election.enable`. */
  readonly uncleanAllowed?: (topic: TopicImage) => boolean;
}

/** Caches per-broker acceptability for one scan: brokers are few, partitions many. */
function acceptor(cluster: ClusterImage, exclude: number, include: number): (r: number) => boolean {
  const cache = new Map<number, boolean>();
  return (r) => {
    if (r === exclude) return false;
    if (r === include) return true;
    let ok = cache.get(r);
    if (ok === undefined) {
      ok = isUsableBroker(cluster.broker(r));
      cache.set(r, ok);
    }
    return ok;
  };
}

function uncleanFor(
  image: MetadataImageView,
  options: ClusterChangeOptions | undefined,
): (t: TopicImage) => boolean {
  return options?.uncleanAllowed ?? ((t) => uncleanElectionAllowedInImage(image, t.name));
}

/**
 * Records that take `brokerId` out of every ISR containing it, re-electing where it led; it is never an
 * acceptable leader (Kafka's generateLeaderAndIsrUpdates with brokerToRemove). Shared by fencing,
 * controlled shutdown and unregistration. One pass over the partitions, with per-broker and per-topic
 * lookups cached, so ~100k partitions take tens of milliseconds.
 */
function removeFromIsrChanges(
  image: MetadataImageView,
  brokerId: number,
  options: ClusterChangeOptions | undefined,
): PartitionChangeRecord[] {
  const isAcceptableLeader = acceptor(image.cluster, brokerId, NO_LEADER);
  const unclean = uncleanFor(image, options);
  const out: PartitionChangeRecord[] = [];
  for (const topic of image.topics.topics()) {
    let uncleanAllowed: boolean | undefined;
    const parts = topic.partitions;
    for (let p = 0; p < parts.length; p++) {
      const partition = parts[p]!;
      if (!partition.isr.includes(brokerId)) continue;
      uncleanAllowed ??= unclean(topic);
      const record = buildPartitionChange({
        topicId: topic.id,
        partitionId: p,
        partition,
        isAcceptableLeader,
        targetIsr: partition.isr.filter((r) => r !== brokerId),
        uncleanAllowed,
      });
      if (record !== undefined) out.push(record);
    }
  }
  return out;
}

/**
 * The partition changes for fencing `brokerId` (session expiry or a heartbeat asking to be fenced). The
 * caller appends `BrokerRegistrationChangeRecord{fenced: 1}` after them, as Kafka does.
 */
export function fenceBrokerChanges(
  image: MetadataImageView,
  brokerId: number,
  options?: ClusterChangeOptions,
): PartitionChangeRecord[] {
  return removeFromIsrChanges(image, brokerId, options);
}

/**
 * The partition changes for a broker entering controlled shutdown: its leaderships move away and it
 * leaves every ISR (a sole ISR member stays, leaderless). Correct whether or not the image already shows
 * the broker in controlled shutdown; the caller writes `BrokerRegistrationChangeRecord{inControlledShutdown: 1}`
 * first (when not already set), as Kafka does.
 */
export function controlledShutdownChanges(
  image: MetadataImageView,
  brokerId: number,
  options?: ClusterChangeOptions,
): PartitionChangeRecord[] {
  return removeFromIsrChanges(image, brokerId, options);
}

/** The partition changes that precede an UnregisterBrokerRecord: the broker leaves every ISR. */
export function unregisterBrokerChanges(
  image: MetadataImageView,
  brokerId: number,
  options?: ClusterChangeOptions,
): PartitionChangeRecord[] {
  return removeFromIsrChanges(image, brokerId, options);
}

/**
 * Elections for every leaderless partition once `brokerId` is unfenced; the broker counts as acceptable
 * even though the image still shows it fenced (the unfence record is in the same batch, before these).
 * The ISR is not touched: the broker leads only partitions whose ISR kept it (or, unclean, any replica).
 */
export function unfenceBrokerChanges(
  image: MetadataImageView,
  brokerId: number,
  options?: ClusterChangeOptions,
): PartitionChangeRecord[] {
  const isAcceptableLeader = acceptor(image.cluster, NO_LEADER, brokerId);
  const unclean = uncleanFor(image, options);
  const out: PartitionChangeRecord[] = [];
  for (const topic of image.topics.topics()) {
    let uncleanAllowed: boolean | undefined;
    const parts = topic.partitions;
    for (let p = 0; p < parts.length; p++) {
      const partition = parts[p]!;
      if (partition.leader !== NO_LEADER) continue;
      uncleanAllowed ??= unclean(topic);
      const record = buildPartitionChange({
        topicId: topic.id,
        partitionId: p,
        partition,
        isAcceptableLeader,
        uncleanAllowed,
      });
      if (record !== undefined) out.push(record);
    }
  }
  return out;
}

/** ElectLeaders' scope: topics by name, with their partitions. */
export interface ElectionScope {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface ElectionResult {
  readonly topic: string;
  readonly partition: number;
  /** Undefined on success (the record is in `records`). */
  readonly error: ControllerError | undefined;
}

export interface ElectionChanges {
  readonly records: PartitionChangeRecord[];
  readonly results: ElectionResult[];
}

/**
 * Kafka's ElectLeaders. PREFERRED: ELECTION_NOT_NEEDED where replicas[0] already leads, else a
 * preferred election; no change means PREFERRED_LEADER_NOT_AVAILABLE (replicas[0] is not in the ISR or
 * not acceptable, and a valid leader stays). UNCLEAN: ELECTION_NOT_NEEDED where a leader exists, else an
 * unclean election; no change means ELIGIBLE_LEADERS_NOT_AVAILABLE. Unknown topics and partitions are
 * UNKNOWN_TOPIC_OR_PARTITION. Without a scope every partition is tried and the ELECTION_NOT_NEEDED
 * results are left out, as Kafka does.
 */
export function electLeadersChanges(
  image: MetadataImageView,
  type: 'PREFERRED' | 'UNCLEAN',
  scope?: readonly ElectionScope[],
): ElectionChanges {
  const isAcceptableLeader = acceptor(image.cluster, NO_LEADER, NO_LEADER);
  const records: PartitionChangeRecord[] = [];
  const results: ElectionResult[] = [];
  const notNeeded = (partition: PartitionRegistration) =>
    type === 'PREFERRED' ? partition.leader === partition.replicas[0] : partition.leader !== NO_LEADER;
  const electOne = (topic: TopicImage, p: number): ControllerError | undefined => {
    const partition = topic.partitions[p];
    if (partition === undefined) {
      return new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `No such partition as ${topic.name}-${p}`);
    }
    if (notNeeded(partition)) return new ControllerError('ELECTION_NOT_NEEDED');
    const record = buildPartitionChange({
      topicId: topic.id,
      partitionId: p,
      partition,
      isAcceptableLeader,
      election: type,
    });
    if (record === undefined) {
      return new ControllerError(
        type === 'PREFERRED' ? 'PREFERRED_LEADER_NOT_AVAILABLE' : 'ELIGIBLE_LEADERS_NOT_AVAILABLE',
      );
    }
    records.push(record);
    return undefined;
  };
  if (scope === undefined) {
    for (const topic of image.topics.topics()) {
      for (let p = 0; p < topic.partitions.length; p++) {
        // The periodic rebalance scans every partition: skip the common case without building an error.
        if (notNeeded(topic.partitions[p]!)) continue;
        const error = electOne(topic, p);
        if (error?.code !== 'ELECTION_NOT_NEEDED') results.push({ topic: topic.name, partition: p, error });
      }
    }
    return { records, results };
  }
  for (const { topic: name, partitions } of scope) {
    const topic = image.topics.byName(name);
    for (const p of partitions) {
      const error =
        topic === undefined
          ? new ControllerError('UNKNOWN_TOPIC_OR_PARTITION', `No such topic as ${name}`)
          : electOne(topic, p);
      results.push({ topic: name, partition: p, error });
    }
  }
  return { records, results };
}

/**
 * Preferred-leader elections (ElectLeaders PREFERRED, and the auto leader rebalance when called without
 * a scope): leadership moves to replicas[0] where it is in the ISR, acceptable and not already leading.
 */
export function preferredElectionChanges(
  image: MetadataImageView,
  scope?: readonly ElectionScope[],
): ElectionChanges {
  return electLeadersChanges(image, 'PREFERRED', scope);
}

/** One replica of an AlterPartition's proposed ISR; brokerEpoch -1 when the leader does not know it. */
export interface IsrMember {
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface AlterPartitionSpec {
  readonly topicId: string;
  readonly partitionId: number;
  /** The requesting broker, which must be the partition's leader. */
  readonly brokerId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly IsrMember[];
  readonly leaderRecoveryState: LeaderRecoveryState;
  readonly uncleanAllowed?: boolean;
}

export interface AlterPartitionOutcome {
  /** Undefined when the request changes nothing (the response then reports the current state). */
  readonly record: PartitionChangeRecord | undefined;
  /**
   * The change also moved leadership away from the requester (it is in controlled shutdown or no longer
   * acceptable): write the record, but answer NEW_LEADER_ELECTED so it refetches metadata, as Kafka.
   */
  readonly newLeaderElected: boolean;
}

/**
 * Validates and applies one partition of an AlterPartition request, as Kafka's ReplicationControlManager:
 * - a leader or partition epoch newer than ours: NOT_CONTROLLER (we are likely a stale controller);
 * - a requester that is not the leader: INVALID_REQUEST; an older leader epoch: FENCED_LEADER_EPOCH;
 *   an older partition epoch: INVALID_UPDATE_VERSION;
 * - an ISR with duplicates, non-replicas, or without the leader: INVALID_REQUEST;
 * - RECOVERING with more than one ISR member, or RECOVERED → RECOVERING: INVALID_REQUEST;
 * - an ISR member not registered, fenced, in controlled shutdown, or with a stale broker epoch:
 *   INELIGIBLE_REPLICA.
 */
export function alterPartitionChange(
  cluster: ClusterImage,
  partition: PartitionRegistration,
  spec: AlterPartitionSpec,
): AlterPartitionOutcome {
  const where = `partition ${spec.topicId}-${spec.partitionId}`;
  if (spec.leaderEpoch > partition.leaderEpoch || spec.partitionEpoch > partition.partitionEpoch) {
    throw new ControllerError(
      'NOT_CONTROLLER',
      `AlterPartition for ${where} carries epochs newer than this controller's (leader epoch ${spec.leaderEpoch} vs ${partition.leaderEpoch}, partition epoch ${spec.partitionEpoch} vs ${partition.partitionEpoch})`,
    );
  }
  if (spec.brokerId !== partition.leader) {
    throw new ControllerError(
      'INVALID_REQUEST',
      `AlterPartition for ${where} from broker ${spec.brokerId} refused: the current leader is ${partition.leader}`,
    );
  }
  if (spec.leaderEpoch < partition.leaderEpoch) {
    throw new ControllerError(
      'FENCED_LEADER_EPOCH',
      `AlterPartition for ${where} has leader epoch ${spec.leaderEpoch}, but the current leader epoch is ${partition.leaderEpoch}`,
    );
  }
  if (spec.partitionEpoch < partition.partitionEpoch) {
    throw new ControllerError(
      'INVALID_UPDATE_VERSION',
      `AlterPartition for ${where} has partition epoch ${spec.partitionEpoch}, but the current partition epoch is ${partition.partitionEpoch}`,
    );
  }
  const newIsr = spec.newIsr.map((m) => m.brokerId);
  for (let i = 0; i < newIsr.length; i++) {
    const r = newIsr[i]!;
    if (newIsr.indexOf(r) !== i || !partition.replicas.includes(r)) {
      throw new ControllerError(
        'INVALID_REQUEST',
        `AlterPartition for ${where} refused: the new ISR [${newIsr.join(',')}] is not valid for replicas [${partition.replicas.join(',')}]`,
      );
    }
  }
  if (!newIsr.includes(partition.leader)) {
    throw new ControllerError(
      'INVALID_REQUEST',
      `AlterPartition for ${where} refused: the new ISR [${newIsr.join(',')}] does not include the leader ${partition.leader}`,
    );
  }
  if (spec.leaderRecoveryState === LeaderRecoveryState.Recovering && newIsr.length > 1) {
    throw new ControllerError(
      'INVALID_REQUEST',
      `AlterPartition for ${where} refused: a RECOVERING leader cannot have more than one ISR member`,
    );
  }
  if (
    partition.leaderRecoveryState === LeaderRecoveryState.Recovered &&
    spec.leaderRecoveryState === LeaderRecoveryState.Recovering
  ) {
    throw new ControllerError(
      'INVALID_REQUEST',
      `AlterPartition for ${where} refused: the leader recovery state cannot go from RECOVERED to RECOVERING`,
    );
  }
  const ineligible: string[] = [];
  for (const m of spec.newIsr) {
    const b = cluster.broker(m.brokerId);
    if (b === undefined) ineligible.push(`${m.brokerId} (not registered)`);
    else if (b.inControlledShutdown) ineligible.push(`${m.brokerId} (in controlled shutdown)`);
    else if (b.fenced) ineligible.push(`${m.brokerId} (fenced)`);
    else if (m.brokerEpoch !== -1 && m.brokerEpoch !== b.epoch) {
      ineligible.push(`${m.brokerId} (stale broker epoch ${m.brokerEpoch}, current ${b.epoch})`);
    }
  }
  if (ineligible.length > 0) {
    throw new ControllerError(
      'INELIGIBLE_REPLICA',
      `AlterPartition for ${where} refused: ineligible replicas ${ineligible.join(', ')}`,
    );
  }
  const record = buildPartitionChange({
    topicId: spec.topicId,
    partitionId: spec.partitionId,
    partition,
    isAcceptableLeader: (r) => isUsableBroker(cluster.broker(r)),
    targetIsr: newIsr,
    targetLeaderRecoveryState: spec.leaderRecoveryState,
    uncleanAllowed: spec.uncleanAllowed ?? false,
  });
  const newLeaderElected =
    record !== undefined && record.leader !== LEADER_UNCHANGED && record.leader !== spec.brokerId;
  return { record, newLeaderElected };
}
