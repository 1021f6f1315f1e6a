import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assignNewPartitions,
  assignNewTopic,
  isUsableBroker,
  mathRandom,
  newPartitionRecords,
  type PlacementBroker,
  placeReplicas,
  type RandomSource,
  usableBrokers,
  usablePredicate,
  validateManualAssignment,
  validateManualReplicas,
} from '../src/controller/assignment.js';
import type {
  BrokerRegistration,
  ClusterImage,
  PartitionRegistration,
  TopicImage,
} from '../src/image/types.js';
import { RecordType } from '../src/records.js';
import { refusal } from './helpers/refusal.js';

type BrokerSpec = { id: number; rack?: string | null; fenced?: boolean; shutdown?: boolean };

function cluster(specs: BrokerSpec[]): ClusterImage {
  const brokers = new Map<number, BrokerRegistration>(
    specs.map((b) => [
      b.id,
      {
        id: b.id,
        epoch: 10,
        incarnationId: `i${b.id}`,
        endpoints: [],
        rack: b.rack ?? null,
        fenced: b.fenced ?? false,
        inControlledShutdown: b.shutdown ?? false,
        registeredTimeMs: 0,
      },
    ]),
  );
  return {
    clusterId: 'c',
    broker: (id) => brokers.get(id),
    brokers: () => brokers.values(),
    brokerCount: brokers.size,
  };
}

function topic(name: string, assignment: number[][]): TopicImage {
  return {
    id: `id-${name}`,
    name,
    partitions: assignment.map(
      (replicas): PartitionRegistration => ({
        replicas,
        isr: replicas,
        leader: replicas[0]!,
        leaderEpoch: 0,
        partitionEpoch: 0,
        leaderRecoveryState: 0,
        createdOffset: 1,
        createdTimeMs: 0,
        changedOffset: 1,
        changedTimeMs: 0,
      }),
    ),
    createdOffset: 1,
    createdTimeMs: 0,
    assignmentChangedOffset: 1,
    assignmentChangedTimeMs: 0,
    assignmentVersion: 0,
  };
}

/** Replays a fixed sequence of "random" values. */
function seq(...values: number[]): RandomSource {
  let i = 0;
  return { int: (bound) => (values[i++ % values.length] ?? 0) % bound };
}

const ids = (...list: number[]): PlacementBroker[] => list.map((id) => ({ id, rack: null }));

describe('placeReplicas without racks (AdminUtils rack-unaware)', () => {
  it("reproduces Kafka's AdminUtilsTest assignment with a fixed start", () => {
    expect(placeReplicas(ids(0, 1, 2, 3, 4), 10, 3, mathRandom, { fixedStartIndex: 0 })).toEqual([
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 4],
      [3, 4, 0],
      [4, 0, 1],
      [0, 2, 3],
      [1, 3, 4],
      [2, 4, 0],
      [3, 0, 1],
      [4, 1, 2],
    ]);
  });

  it('draws the start index and the replica shift from the random source', () => {
    // startIndex 2, shift 1: partition 0 starts on the third broker, followers shifted by one more.
    expect(placeReplicas(ids(10, 20, 30, 40), 2, 2, seq(2, 1))).toEqual([
      [30, 10],
      [40, 20],
    ]);
  });

  it('sorts brokers by id first', () => {
    expect(placeReplicas(ids(3, 1, 2), 3, 1, seq(0, 0))).toEqual([[1], [2], [3]]);
  });

  it('places a single replica on a single broker', () => {
    expect(placeReplicas(ids(7), 3, 1, mathRandom)).toEqual([[7], [7], [7]]);
  });
});

describe('placeReplicas with racks', () => {
  it("reproduces Kafka's rack-alternated assignment (AdminRackAwareTest)", () => {
    const brokers: PlacementBroker[] = [
      { id: 0, rack: 'rack1' },
      { id: 1, rack: 'rack3' },
      { id: 2, rack: 'rack3' },
      { id: 3, rack: 'rack2' },
      { id: 4, rack: 'rack2' },
      { id: 5, rack: 'rack1' },
    ];
    // The alternated list is 0, 3, 1, 5, 4, 2.
    expect(placeReplicas(brokers, 7, 3, mathRandom, { fixedStartIndex: 0 })).toEqual([
      [0, 3, 1],
      [3, 1, 5],
      [1, 5, 4],
      [5, 4, 2],
      [4, 2, 0],
      [2, 0, 3],
      [0, 4, 2],
    ]);
  });

  it('treats brokers without a rack as one more rack', () => {
    const brokers: PlacementBroker[] = [
      { id: 1, rack: 'a' },
      { id: 2, rack: null },
      { id: 3, rack: 'b' },
    ];
    for (const replicas of placeReplicas(brokers, 6, 3, mathRandom)) expect(new Set(replicas).size).toBe(3);
  });

  it('spreads each partition over as many racks as possible and leaders evenly (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.constantFrom('r1', 'r2', 'r3', 'r4'), { minLength: 12, maxLength: 12 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (brokerIds, racks, withRacks, partitions, rfWanted, r1, r2) => {
          const rf = Math.min(rfWanted, brokerIds.length);
          const brokers = brokerIds.map((id, i) => ({ id, rack: withRacks ? racks[i]! : null }));
          const out = placeReplicas(brokers, partitions, rf, seq(r1, r2));
          expect(out.length).toBe(partitions);
          const leaders = new Map<number, number>();
          const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
          const rackCount = new Set(brokers.map((b) => b.rack)).size;
          for (const replicas of out) {
            expect(replicas.length).toBe(rf);
            expect(new Set(replicas).size).toBe(rf);
            for (const r of replicas) expect(brokerIds).toContain(r);
            leaders.set(replicas[0]!, (leaders.get(replicas[0]!) ?? 0) + 1);
            if (withRacks)
              expect(new Set(replicas.map((r) => rackOf.get(r))).size).toBe(Math.min(rf, rackCount));
          }
          // Preferred leaders walk the broker list round-robin: counts differ by at most one.
          const counts = brokerIds.map((id) => leaders.get(id) ?? 0);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('placement refusals', () => {
  it('refuses bad counts', () => {
    const cases: [() => unknown, string, RegExp][] = [
      [() => placeReplicas(ids(1, 2), 0, 1, mathRandom), 'INVALID_PARTITIONS', /non-positive/],
      [() => placeReplicas(ids(1, 2), -3, 1, mathRandom), 'INVALID_PARTITIONS', /non-positive/],
      [() => placeReplicas(ids(1, 2), 1.5, 1, mathRandom), 'INVALID_PARTITIONS', /non-positive/],
      [
        () => placeReplicas(ids(1, 2), 11, 1, mathRandom, { maxPartitions: 10 }),
        'INVALID_PARTITIONS',
        /limit of 10/,
      ],
      [() => placeReplicas(ids(1, 2), 1, 0, mathRandom), 'INVALID_REPLICATION_FACTOR', /larger than 0/],
      [() => placeReplicas(ids(1, 2), 1, 3, mathRandom), 'INVALID_REPLICATION_FACTOR', /only 2 broker\(s\)/],
      [() => placeReplicas([], 1, 1, mathRandom), 'INVALID_REPLICATION_FACTOR', /fenced/],
    ];
    for (const [fn, code, message] of cases) {
      const e = refusal(fn);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    }
  });

  it('only places on usable brokers', () => {
    const c = cluster([{ id: 1 }, { id: 2, fenced: true }, { id: 3, shutdown: true }, { id: 4 }]);
    expect(usableBrokers(c).map((b) => b.id)).toEqual([1, 4]);
    expect(isUsableBroker(c.broker(2))).toBe(false);
    expect(isUsableBroker(undefined)).toBe(false);
    expect(usablePredicate(c)(4)).toBe(true);
    const out = assignNewTopic(
      c,
      { numPartitions: 8, replicationFactor: 2 },
      { numPartitions: 1, replicationFactor: 1 },
      mathRandom,
    );
    for (const r of out) expect(r.sort()).toEqual([1, 4]);
    expect(
      refusal(() =>
        assignNewTopic(
          c,
          { numPartitions: 1, replicationFactor: 3 },
          { numPartitions: 1, replicationFactor: 1 },
          mathRandom,
        ),
      ).code,
    ).toBe('INVALID_REPLICATION_FACTOR');
  });

  it('-1 takes the defaults', () => {
    const c = cluster([{ id: 1 }, { id: 2 }, { id: 3 }]);
    const out = assignNewTopic(
      c,
      { numPartitions: -1, replicationFactor: -1 },
      { numPartitions: 4, replicationFactor: 2 },
      mathRandom,
    );
    expect(out.length).toBe(4);
    for (const r of out) expect(r.length).toBe(2);
  });
});

describe('manual assignments', () => {
  const c = cluster([{ id: 1 }, { id: 2 }, { id: 3, fenced: true }]);
  const d = { numPartitions: 1, replicationFactor: 1 };

  it('returns the replica lists by partition', () => {
    expect(
      assignNewTopic(
        c,
        {
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [
            { partitionIndex: 1, brokerIds: [2, 3] },
            { partitionIndex: 0, brokerIds: [3, 1] },
          ],
        },
        d,
        mathRandom,
      ),
    ).toEqual([
      [3, 1],
      [2, 3],
    ]);
  });

  it('refuses every malformed assignment', () => {
    const cases: [() => unknown, string, RegExp][] = [
      [
        () =>
          assignNewTopic(
            c,
            {
              numPartitions: -1,
              replicationFactor: 2,
              assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
            },
            d,
            mathRandom,
          ),
        'INVALID_REQUEST',
        /replication factor was not set to -1/,
      ],
      [
        () =>
          assignNewTopic(
            c,
            {
              numPartitions: 1,
              replicationFactor: -1,
              assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
            },
            d,
            mathRandom,
          ),
        'INVALID_REQUEST',
        /numPartitions was not set to -1/,
      ],
      [
        () =>
          validateManualAssignment(c, [
            { partitionIndex: 0, brokerIds: [1] },
            { partitionIndex: 0, brokerIds: [2] },
          ]),
        'INVALID_REPLICA_ASSIGNMENT',
        /multiple manual partition assignments for partition 0/,
      ],
      [
        () =>
          validateManualAssignment(c, [
            { partitionIndex: 0, brokerIds: [1] },
            { partitionIndex: 2, brokerIds: [2] },
          ]),
        'INVALID_REPLICA_ASSIGNMENT',
        /consecutive 0-based/,
      ],
      [
        () => validateManualAssignment(c, [{ partitionIndex: 0, brokerIds: [] }]),
        'INVALID_REPLICA_ASSIGNMENT',
        /empty replica list/,
      ],
      [
        () => validateManualAssignment(c, [{ partitionIndex: 0, brokerIds: [1, 9] }]),
        'INVALID_REPLICA_ASSIGNMENT',
        /broker 9, but no such broker/,
      ],
      [
        () => validateManualAssignment(c, [{ partitionIndex: 0, brokerIds: [1, 2, 1] }]),
        'INVALID_REPLICA_ASSIGNMENT',
        /broker 1 more than once/,
      ],
      [
        () =>
          validateManualAssignment(c, [
            { partitionIndex: 0, brokerIds: [1, 2] },
            { partitionIndex: 1, brokerIds: [2] },
          ]),
        'INVALID_REPLICA_ASSIGNMENT',
        /1 replica\(s\), but this is not consistent with previous partitions, which have 2/,
      ],
      [() => validateManualAssignment(c, []), 'INVALID_REPLICA_ASSIGNMENT', /empty/],
      [
        () =>
          validateManualAssignment(
            c,
            [
              { partitionIndex: 0, brokerIds: [1] },
              { partitionIndex: 1, brokerIds: [1] },
            ],
            1,
          ),
        'INVALID_PARTITIONS',
        /limit of 1/,
      ],
      [() => validateManualReplicas(c, [1], 2), 'INVALID_REPLICA_ASSIGNMENT', /not consistent/],
    ];
    for (const [fn, code, message] of cases) {
      const e = refusal(fn);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    }
  });

  it('a fenced broker may be named, but a partition needs one usable replica to lead', () => {
    const recs = newPartitionRecords('tid', [[3, 1], [2]], usablePredicate(c), 4);
    expect(recs).toEqual([
      {
        type: RecordType.Partition,
        version: 0,
        topicId: 'tid',
        partitionId: 4,
        replicas: [3, 1],
        isr: [1],
        leader: 1,
        leaderEpoch: 0,
        partitionEpoch: 0,
        leaderRecoveryState: 0,
      },
      {
        type: RecordType.Partition,
        version: 0,
        topicId: 'tid',
        partitionId: 5,
        replicas: [2],
        isr: [2],
        leader: 2,
        leaderEpoch: 0,
        partitionEpoch: 0,
        leaderRecoveryState: 0,
      },
    ]);
    const e = refusal(() => newPartitionRecords('tid', [[1], [3]], usablePredicate(c)));
    expect(e.code).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(e.message).toMatch(/partition 1 are fenced or in controlled shutdown/);
  });
});

describe('assignNewPartitions', () => {
  const c = cluster([0, 1, 2, 3, 4].map((id) => ({ id })));
  const first5 = placeReplicas(ids(0, 1, 2, 3, 4), 10, 3, mathRandom, { fixedStartIndex: 0 });

  it('continues the stripe from partition 0’s preferred leader', () => {
    const t = topic('t', first5.slice(0, 5));
    expect(assignNewPartitions(c, t, 10)).toEqual(first5.slice(5));
  });

  it('keeps the topic’s replication factor', () => {
    const t = topic('t', [[1, 2]]);
    for (const r of assignNewPartitions(c, t, 6)) expect(r.length).toBe(2);
  });

  it('accepts a manual assignment of the right shape', () => {
    const t = topic('t', [[1, 2]]);
    expect(
      assignNewPartitions(c, t, 3, [
        [3, 4],
        [4, 0],
      ]),
    ).toEqual([
      [3, 4],
      [4, 0],
    ]);
  });

  it('refuses counts that are not an increase and malformed manual assignments', () => {
    const t = topic('t', [
      [1, 2],
      [2, 3],
    ]);
    const cases: [() => unknown, string, RegExp][] = [
      [() => assignNewPartitions(c, t, 2), 'INVALID_PARTITIONS', /already has 2 partition/],
      [
        () => assignNewPartitions(c, t, 1),
        'INVALID_PARTITIONS',
        /currently has 2 partition\(s\); 1 would not be an increase/,
      ],
      [
        () => assignNewPartitions(c, t, 4, [[1, 2]]),
        'INVALID_REPLICA_ASSIGNMENT',
        /add 2 additional partition\(s\), but only 1/,
      ],
      [() => assignNewPartitions(c, t, 3, [[1]]), 'INVALID_REPLICA_ASSIGNMENT', /not consistent/],
      [() => assignNewPartitions(c, t, 3, [[1, 1]]), 'INVALID_REPLICA_ASSIGNMENT', /more than once/],
      [() => assignNewPartitions(c, t, 3, [[1, 8]]), 'INVALID_REPLICA_ASSIGNMENT', /no such broker/],
      [() => assignNewPartitions(c, t, 100, undefined, 10), 'INVALID_PARTITIONS', /limit of 10/],
      [() => assignNewPartitions(cluster([{ id: 1 }]), t, 3), 'INVALID_REPLICATION_FACTOR', /only 1 broker/],
      [() => assignNewPartitions(c, topic('empty', []), 3), 'UNKNOWN_SERVER_ERROR', /no partitions/],
    ];
    for (const [fn, code, message] of cases) {
      const e = refusal(fn);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    }
  });
});

describe('mathRandom', () => {
  it('stays in range', () => {
    for (let i = 0; i < 1000; i++) {
      const v = mathRandom.int(7);
      expect(v >= 0 && v < 7 && Number.isInteger(v)).toBe(true);
    }
  });
});
