/**
 * Replica assignment for new topics and new partitions, as Kafka's `AdminUtils.assignReplicasToBrokers`.
 *
 * Goals, in Kafka's words: spread replicas evenly among brokers; for partitions assigned to a broker,
 * spread their other replicas evenly across the other brokers; with rack information, put each
 * partition's replicas on as many different racks as possible.
 *
 * - Without racks: partition p's first replica is broker `(p + startIndex) % n` of the id-sorted list,
 *   and its followers are shifted by `nextReplicaShift`, which grows by one every n partitions, so that
 *   a broker's followers rotate instead of always being its neighbours. Both start values are random
 *   (an injected {@link RandomSource}), so repeated small topics do not all lead on the same broker.
 * - With racks: the same walk over a rack-alternated list (racks sorted, one broker of each in turn),
 *   skipping a candidate whose rack already holds a replica while some rack holds none, and a broker
 *   already chosen while some broker holds none. A broker without a rack counts as a rack of its own
 *   (KRaft's StripedReplicaPlacer does the same; ZooKeeper-era Kafka refused such a mix).
 *
 * Only usable brokers (unfenced, not in controlled shutdown) receive automatic assignments; a manual
 * assignment may name any registered broker, but needs at least one usable one per partition for the
 * initial leader.
 */
import type { BrokerRegistration, ClusterImage, TopicImage } from '../image/types.js';
import { LeaderRecoveryState, type PartitionRecord, RecordType } from '../records.js';
import { ControllerError } from './errors.js';

/** A uniform random integer in [0, bound). Injected so placements are reproducible in tests. */
export interface RandomSource {
  int(bound: number): number;
}

export const mathRandom: RandomSource = { int: (bound) => Math.floor(Math.random() * bound) };

export interface PlacementBroker {
  readonly id: number;
  readonly rack: string | null;
}

/**
 * The most partitions one request may create. Kafka's KRaft controller refuses operations of more than
 * 10,000 records; this bound only keeps a hostile `numPartitions` from exhausting the controller's memory.
 */
export const DEFAULT_MAX_NEW_PARTITIONS = 100_000;

/** Kafka's "active" broker: unfenced and not in controlled shutdown; the only kind that may lead. */
export function isUsableBroker(broker: BrokerRegistration | undefined): boolean {
  return broker !== undefined && !broker.fenced && !broker.inControlledShutdown;
}

/** `isUsableBroker` over a cluster image, by id. */
export function usablePredicate(cluster: ClusterImage): (brokerId: number) => boolean {
  return (id) => isUsableBroker(cluster.broker(id));
}

/** The usable brokers of a cluster, sorted by id. */
export function usableBrokers(cluster: ClusterImage): PlacementBroker[] {
  const out: PlacementBroker[] = [];
  for (const b of cluster.brokers()) if (isUsableBroker(b)) out.push({ id: b.id, rack: b.rack });
  return out.sort((a, b) => a.id - b.id);
}

export interface PlacementOptions {
  /** The first new partition's id (continuing an existing topic); default 0. */
  readonly startPartitionId?: number;
  /**
   * A fixed start index into the broker walk (both AdminUtils start values take it), instead of random
   * ones. Used when adding partitions, so the new ones continue the topic's stripe.
   */
  readonly fixedStartIndex?: number;
  readonly maxPartitions?: number;
}

/**
 * Places `partitions` partitions of `replicationFactor` replicas on `brokers`. Returns one replica
 * list per partition, preferred leader first. Refuses partitions < 1 (INVALID_PARTITIONS) and a
 * replication factor < 1 or above the number of brokers (INVALID_REPLICATION_FACTOR).
 */
export function placeReplicas(
  brokers: readonly PlacementBroker[],
  partitions: number,
  replicationFactor: number,
  random: RandomSource,
  options: PlacementOptions = {},
): number[][] {
  checkCounts(partitions, replicationFactor, brokers.length, options.maxPartitions);
  const walk = brokerWalk(brokers);
  const n = walk.ids.length;
  const fixed = options.fixedStartIndex;
  const startIndex = fixed !== undefined && fixed >= 0 ? fixed % n : random.int(n);
  let nextReplicaShift = fixed !== undefined && fixed >= 0 ? fixed % n : random.int(n);
  let partitionId = Math.max(0, options.startPartitionId ?? 0);
  const out: number[][] = [];
  for (let i = 0; i < partitions; i++, partitionId++) {
    if (partitionId > 0 && partitionId % n === 0) nextReplicaShift++;
    const first = (partitionId + startIndex) % n;
    out.push(
      walk.racks === undefined
        ? rackUnawareReplicas(walk.ids, first, nextReplicaShift, replicationFactor)
        : rackAwareReplicas(walk.ids, walk.racks, walk.rackCount, first, nextReplicaShift, replicationFactor),
    );
  }
  return out;
}

function checkCounts(partitions: number, replicationFactor: number, brokers: number, max?: number): void {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new ControllerError(
      'INVALID_PARTITIONS',
      'Number of partitions was set to an invalid non-positive value.',
    );
  }
  const limit = max ?? DEFAULT_MAX_NEW_PARTITIONS;
  if (partitions > limit) {
    throw new ControllerError(
      'INVALID_PARTITIONS',
      `Number of partitions ${partitions} exceeds the limit of ${limit} partitions per request.`,
    );
  }
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new ControllerError(
      'INVALID_REPLICATION_FACTOR',
      'Replication factor must be larger than 0, or -1 to use the default value.',
    );
  }
  if (brokers === 0) {
    throw new ControllerError(
      'INVALID_REPLICATION_FACTOR',
      `Unable to replicate the partition ${replicationFactor} time(s): All brokers are currently fenced or in controlled shutdown.`,
    );
  }
  if (replicationFactor > brokers) {
    throw new ControllerError(
      'INVALID_REPLICATION_FACTOR',
      `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${brokers} broker(s) are usable (unfenced and not in controlled shutdown).`,
    );
  }
}

interface BrokerWalk {
  /** The order partitions walk: sorted ids, or the rack-alternated list. */
  readonly ids: readonly number[];
  /** Rack of ids[i]; undefined when no broker has a rack (the classic assignment). */
  readonly racks: readonly (string | null)[] | undefined;
  readonly rackCount: number;
}

function brokerWalk(brokers: readonly PlacementBroker[]): BrokerWalk {
  const sorted = [...brokers].sort((a, b) => a.id - b.id);
  if (sorted.every((b) => b.rack === null))
    return { ids: sorted.map((b) => b.id), racks: undefined, rackCount: 0 };
  const byRack = new Map<string | null, PlacementBroker[]>();
  for (const b of sorted) {
    const list = byRack.get(b.rack);
    if (list === undefined) byRack.set(b.rack, [b]);
    else list.push(b);
  }
  // Racks in sorted order (the rackless group first) so the walk is deterministic for a given cluster.
  const racks = [...byRack.keys()].sort((a, b) =>
    a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1,
  );
  const ids: number[] = [];
  const rackOf: (string | null)[] = [];
  for (let round = 0; ids.length < sorted.length; round++) {
    for (const rack of racks) {
      const b = byRack.get(rack)?.[round];
      if (b !== undefined) {
        ids.push(b.id);
        rackOf.push(b.rack);
      }
    }
  }
  return { ids, racks: rackOf, rackCount: racks.length };
}

/** AdminUtils.replicaIndex: never the first replica's own position, since shift is in 1..n-1. */
function replicaIndex(first: number, shift: number, k: number, n: number): number {
  return (first + 1 + ((shift + k) % (n - 1))) % n;
}

function rackUnawareReplicas(ids: readonly number[], first: number, shift: number, rf: number): number[] {
  const n = ids.length;
  const replicas = [ids[first]!];
  for (let j = 0; j < rf - 1; j++) replicas.push(ids[replicaIndex(first, shift, j, n)]!);
  return replicas;
}

function rackAwareReplicas(
  ids: readonly number[],
  racks: readonly (string | null)[],
  rackCount: number,
  first: number,
  shift: number,
  rf: number,
): number[] {
  const n = ids.length;
  const replicas = [ids[first]!];
  const racksUsed = new Set<string | null>([racks[first]!]);
  const brokersUsed = new Set<number>([ids[first]!]);
  let k = 0;
  for (let r = 1; r < rf; r++) {
    // Terminates: as k runs over n-1 consecutive values, replicaIndex visits every other position, and
    // since rf <= n some visited broker is unused and (if any rack is unused) lies in an unused rack.
    for (;;) {
      const pos = replicaIndex(first, shift * rackCount, k++, n);
      const broker = ids[pos]!;
      const rack = racks[pos]!;
      if (
        (!racksUsed.has(rack) || racksUsed.size === rackCount) &&
        (!brokersUsed.has(broker) || brokersUsed.size === n)
      ) {
        replicas.push(broker);
        racksUsed.add(rack);
        brokersUsed.add(broker);
        break;
      }
    }
  }
  return replicas;
}

/** One partition of a manual assignment, as CreateTopics carries it. */
export interface ManualPartitionAssignment {
  readonly partitionIndex: number;
  readonly brokerIds: readonly number[];
}

/**
 * Validates one partition's manual replica list: non-empty, every broker registered, no broker twice,
 * and (when given) `expectedReplicationFactor` replicas. Refusals are INVALID_REPLICA_ASSIGNMENT with
 * Kafka's messages.
 */
export function validateManualReplicas(
  cluster: ClusterImage,
  replicas: readonly number[],
  expectedReplicationFactor?: number,
): void {
  if (replicas.length === 0) {
    throw new ControllerError(
      'INVALID_REPLICA_ASSIGNMENT',
      'The manual partition assignment includes an empty replica list.',
    );
  }
  const sorted = [...replicas].sort((a, b) => a - b);
  let prev: number | undefined;
  for (const id of sorted) {
    if (cluster.broker(id) === undefined) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        `The manual partition assignment includes broker ${id}, but no such broker is registered.`,
      );
    }
    if (id === prev) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        `The manual partition assignment includes the broker ${id} more than once.`,
      );
    }
    prev = id;
  }
  if (expectedReplicationFactor !== undefined && replicas.length !== expectedReplicationFactor) {
    throw new ControllerError(
      'INVALID_REPLICA_ASSIGNMENT',
      `The manual partition assignment includes a partition with ${replicas.length} replica(s), but this is not consistent with previous partitions, which have ${expectedReplicationFactor} replica(s).`,
    );
  }
}

/**
 * Validates a whole manual assignment for a new topic: each partition listed once, ids forming 0..n-1,
 * consistent replication factor, registered brokers. Returns the replica lists indexed by partition.
 */
export function validateManualAssignment(
  cluster: ClusterImage,
  assignments: readonly ManualPartitionAssignment[],
  maxPartitions = DEFAULT_MAX_NEW_PARTITIONS,
): number[][] {
  if (assignments.length > maxPartitions) {
    throw new ControllerError(
      'INVALID_PARTITIONS',
      `Number of partitions ${assignments.length} exceeds the limit of ${maxPartitions} partitions per request.`,
    );
  }
  const byPartition = new Map<number, readonly number[]>();
  let rf: number | undefined;
  for (const a of assignments) {
    if (byPartition.has(a.partitionIndex)) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        `Found multiple manual partition assignments for partition ${a.partitionIndex}`,
      );
    }
    validateManualReplicas(cluster, a.brokerIds, rf);
    rf = a.brokerIds.length;
    byPartition.set(a.partitionIndex, a.brokerIds);
  }
  const out: number[][] = [];
  for (let i = 0; i < byPartition.size; i++) {
    const replicas = byPartition.get(i);
    if (replicas === undefined) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        'partitions should be a consecutive 0-based integer sequence',
      );
    }
    out.push([...replicas]);
  }
  if (out.length === 0) {
    throw new ControllerError('INVALID_REPLICA_ASSIGNMENT', 'The manual partition assignment is empty.');
  }
  return out;
}

/** A CreateTopics topic: -1 counts mean the cluster default; a manual assignment requires both be -1. */
export interface NewTopicSpec {
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly assignments?: readonly ManualPartitionAssignment[];
}

export interface TopicDefaults {
  /** Kafka's `num.partitions` (default 1). */
  readonly numPartitions: number;
  /** Kafka's `default.replication.factor` (default 1). */
  readonly replicationFactor: number;
}

/**
 * The replica lists for a new topic: the validated manual assignment if one is given, else a placement
 * on the usable brokers. Refuses counts set alongside a manual assignment with INVALID_REQUEST, as KRaft.
 */
export function assignNewTopic(
  cluster: ClusterImage,
  spec: NewTopicSpec,
  defaults: TopicDefaults,
  random: RandomSource,
  maxPartitions = DEFAULT_MAX_NEW_PARTITIONS,
): number[][] {
  if (spec.assignments !== undefined && spec.assignments.length > 0) {
    if (spec.replicationFactor !== -1) {
      throw new ControllerError(
        'INVALID_REQUEST',
        'A manual partition assignment was specified, but replication factor was not set to -1.',
      );
    }
    if (spec.numPartitions !== -1) {
      throw new ControllerError(
        'INVALID_REQUEST',
        'A manual partition assignment was specified, but numPartitions was not set to -1.',
      );
    }
    return validateManualAssignment(cluster, spec.assignments, maxPartitions);
  }
  const partitions = spec.numPartitions === -1 ? defaults.numPartitions : spec.numPartitions;
  const rf = spec.replicationFactor === -1 ? defaults.replicationFactor : spec.replicationFactor;
  return placeReplicas(usableBrokers(cluster), partitions, rf, random, { maxPartitions });
}

/**
 * Replica lists for the partitions added when `topic` grows to `newTotalCount` (CreatePartitions).
 * The replication factor is the topic's (its partition 0's). Without a manual assignment the new
 * partitions continue the stripe from partition 0's preferred leader, deterministically, as Kafka's
 * AdminZkClient.createPartitions does. Refuses a count that is not an increase (INVALID_PARTITIONS) and
 * a manual assignment of the wrong size or shape (INVALID_REPLICA_ASSIGNMENT).
 */
export function assignNewPartitions(
  cluster: ClusterImage,
  topic: TopicImage,
  newTotalCount: number,
  manual?: readonly (readonly number[])[],
  maxPartitions = DEFAULT_MAX_NEW_PARTITIONS,
): number[][] {
  const current = topic.partitions.length;
  if (!Number.isInteger(newTotalCount) || newTotalCount === current) {
    throw new ControllerError('INVALID_PARTITIONS', `Topic already has ${current} partition(s).`);
  }
  if (newTotalCount < current) {
    throw new ControllerError(
      'INVALID_PARTITIONS',
      `The topic ${topic.name} currently has ${current} partition(s); ${newTotalCount} would not be an increase.`,
    );
  }
  const additional = newTotalCount - current;
  if (additional > maxPartitions) {
    throw new ControllerError(
      'INVALID_PARTITIONS',
      `Adding ${additional} partitions exceeds the limit of ${maxPartitions} partitions per request.`,
    );
  }
  const p0 = topic.partitions[0];
  if (p0 === undefined) {
    throw new ControllerError(
      'UNKNOWN_SERVER_ERROR',
      `Invalid state: topic ${topic.name} appears to have no partitions.`,
    );
  }
  const rf = p0.replicas.length;
  if (manual !== undefined) {
    if (manual.length !== additional) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        `Attempted to add ${additional} additional partition(s), but only ${manual.length} assignment(s) were specified.`,
      );
    }
    for (const replicas of manual) validateManualReplicas(cluster, replicas, rf);
    return manual.map((r) => [...r]);
  }
  const brokers = usableBrokers(cluster);
  const walk = brokerWalk(brokers);
  const anchor = p0.replicas[0] ?? 0;
  let fixedStartIndex = walk.ids.indexOf(anchor);
  if (fixedStartIndex < 0)
    fixedStartIndex = Math.max(
      0,
      walk.ids.findIndex((id) => id >= anchor),
    );
  return placeReplicas(brokers, additional, rf, mathRandom, {
    startPartitionId: current,
    fixedStartIndex,
    maxPartitions,
  });
}

/**
 * The PartitionRecords for new partitions: ISR = the usable replicas in replica order, leader = the
 * first of them, epochs 0. A partition none of whose replicas is usable has no possible leader and is
 * refused (INVALID_REPLICA_ASSIGNMENT, as KRaft for a manual assignment; an automatic placement only
 * uses usable brokers, so cannot hit it).
 */
export function newPartitionRecords(
  topicId: string,
  assignments: readonly (readonly number[])[],
  isUsable: (brokerId: number) => boolean,
  startPartitionId = 0,
): PartitionRecord[] {
  const out: PartitionRecord[] = [];
  for (let i = 0; i < assignments.length; i++) {
    const replicas = assignments[i]!;
    const isr = replicas.filter(isUsable);
    const leader = isr[0];
    if (leader === undefined) {
      throw new ControllerError(
        'INVALID_REPLICA_ASSIGNMENT',
        `All brokers specified in the manual partition assignment for partition ${startPartitionId + i} are fenced or in controlled shutdown.`,
      );
    }
    out.push({
      type: RecordType.Partition,
      version: 0,
      topicId,
      partitionId: startPartitionId + i,
      replicas: [...replicas],
      isr,
      leader,
      leaderEpoch: 0,
      partitionEpoch: 0,
      leaderRecoveryState: LeaderRecoveryState.Recovered,
    });
  }
  return out;
}
