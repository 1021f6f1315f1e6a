import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alterPartitionChange,
  buildPartitionChange,
  controlledShutdownChanges,
  type Election,
  electLeadersChanges,
  fenceBrokerChanges,
  type PartitionChangeSpec,
  type PartitionState,
  preferredElectionChanges,
  unfenceBrokerChanges,
  unregisterBrokerChanges,
} from '../src/controller/partition-change.js';
import type {
  BrokerRegistration,
  MetadataImageView,
  PartitionRegistration,
  ResourceConfigs,
  TopicImage,
} from '../src/image/types.js';
import {
  ConfigResourceType,
  LeaderRecoveryState,
  type PartitionChangeRecord,
  RecordType,
} from '../src/records.js';
import { refusal } from './helpers/refusal.js';

// --- a small fake image ---------------------------------------------------------------------------

type BrokerSpec = { id: number; fenced?: boolean; shutdown?: boolean; epoch?: number };
type PartSpec = {
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch?: number;
  partitionEpoch?: number;
  lrs?: LeaderRecoveryState;
};

function part(p: PartSpec): PartitionRegistration {
  return {
    replicas: p.replicas,
    isr: p.isr,
    leader: p.leader,
    leaderEpoch: p.leaderEpoch ?? 0,
    partitionEpoch: p.partitionEpoch ?? 0,
    leaderRecoveryState: p.lrs ?? LeaderRecoveryState.Recovered,
    createdOffset: 1,
    createdTimeMs: 0,
    changedOffset: 1,
    changedTimeMs: 0,
  };
}

function reg(b: BrokerSpec): BrokerRegistration {
  return {
    id: b.id,
    epoch: b.epoch ?? 10 + b.id,
    incarnationId: `inc-${b.id}`,
    endpoints: [],
    rack: null,
    fenced: b.fenced ?? false,
    inControlledShutdown: b.shutdown ?? false,
    registeredTimeMs: 0,
  };
}

function image(opts: {
  brokers: BrokerSpec[];
  topics: { name: string; id?: string; partitions: PartSpec[] | PartitionRegistration[] }[];
  topicConfigs?: Record<string, Record<string, string>>;
  clusterDefaults?: Record<string, string>;
}): MetadataImageView {
  const brokers = new Map(opts.brokers.map((b) => [b.id, reg(b)]));
  const topics: TopicImage[] = opts.topics.map((t) => ({
    id: t.id ?? `id-${t.name}`,
    name: t.name,
    partitions: t.partitions.map((p) => ('createdOffset' in p ? p : part(p))),
    createdOffset: 1,
    createdTimeMs: 0,
    assignmentChangedOffset: 1,
    assignmentChangedTimeMs: 0,
    assignmentVersion: 0,
  }));
  const byName = new Map(topics.map((t) => [t.name, t]));
  const byId = new Map(topics.map((t) => [t.id, t]));
  const rc = (values: Record<string, string>): ResourceConfigs => ({
    values: new Map(Object.entries(values)),
    changedOffset: 1,
    changedTimeMs: 0,
    createdOffset: 1,
    createdTimeMs: 0,
    version: 1,
  });
  return {
    provenance: { offset: 100, epoch: 1, timestampMs: 0 },
    features: { level: () => undefined, all: () => new Map() },
    cluster: {
      clusterId: 'c',
      broker: (id) => brokers.get(id),
      brokers: () => brokers.values(),
      brokerCount: brokers.size,
    },
    topics: {
      byId: (id) => byId.get(id),
      byName: (n) => byName.get(n),
      topics: () => topics.values(),
      topicCount: topics.length,
      partitionCount: topics.reduce((n, t) => n + t.partitions.length, 0),
    },
    configs: {
      get: (type, name) => {
        if (type === ConfigResourceType.Topic) {
          const v = opts.topicConfigs?.[name];
          return v === undefined ? undefined : rc(v);
        }
        return name === '' && opts.clusterDefaults !== undefined ? rc(opts.clusterDefaults) : undefined;
      },
      resources: () => [][Symbol.iterator](),
    },
    offsets: { group: () => undefined, groups: () => [][Symbol.iterator](), groupCount: 0 },
  };
}

/** Kafka's PartitionRegistration.merge. */
function replay(
  p: PartitionState & { leaderEpoch: number; partitionEpoch: number },
  r: PartitionChangeRecord,
) {
  return {
    replicas: r.replicas ?? p.replicas,
    isr: r.isr ?? p.isr,
    leader: r.leader === -2 ? p.leader : r.leader,
    leaderEpoch: r.leader === -2 ? p.leaderEpoch : p.leaderEpoch + 1,
    partitionEpoch: p.partitionEpoch + 1,
    leaderRecoveryState: r.leaderRecoveryState ?? p.leaderRecoveryState,
  };
}

const state = (
  replicas: number[],
  isr: number[],
  leader: number,
  lrs: LeaderRecoveryState = 0,
): PartitionState => ({
  replicas,
  isr,
  leader,
  leaderRecoveryState: lrs,
});

const all = () => true;
const except =
  (...ids: number[]) =>
  (r: number) =>
    !ids.includes(r);

function build(partition: PartitionState, rest: Partial<PartitionChangeSpec> = {}) {
  return buildPartitionChange({ topicId: 't', partitionId: 0, partition, isAcceptableLeader: all, ...rest });
}

// --- the builder ----------------------------------------------------------------------------------

describe('buildPartitionChange', () => {
  it('returns undefined when nothing changes', () => {
    expect(build(state([1, 2, 3], [1, 2, 3], 1))).toBeUndefined();
    expect(
      build(state([1, 2, 3], [1, 2, 3], 1), { targetIsr: [1, 2, 3], targetReplicas: [1, 2, 3] }),
    ).toBeUndefined();
    expect(
      build(state([1, 2], [1], 1), { targetLeaderRecoveryState: LeaderRecoveryState.Recovered }),
    ).toBeUndefined();
  });

  it('an ISR shrink that keeps the leader writes leader -2 (no leader epoch bump)', () => {
    expect(build(state([1, 2, 3], [1, 2, 3], 1), { targetIsr: [1, 3] })).toEqual({
      type: RecordType.PartitionChange,
      version: 0,
      topicId: 't',
      partitionId: 0,
      leader: -2,
      isr: [1, 3],
    });
  });

  it('an ISR expansion keeps the leader too', () => {
    expect(build(state([1, 2, 3], [1], 1), { targetIsr: [1, 2] })).toMatchObject({ leader: -2, isr: [1, 2] });
  });

  it('removing the leader from the ISR elects the first valid replica in replica order', () => {
    // ISR order [3, 2] must not matter: replica order is 2 before 3.
    expect(build(state([1, 2, 3], [1, 3, 2], 1), { targetIsr: [3, 2] })).toMatchObject({
      leader: 2,
      isr: [3, 2],
    });
  });

  it('an unacceptable leader is replaced even when still in the ISR', () => {
    expect(build(state([1, 2, 3], [1, 2, 3], 1), { isAcceptableLeader: except(1) })).toEqual({
      type: RecordType.PartitionChange,
      version: 0,
      topicId: 't',
      partitionId: 0,
      leader: 2,
    });
  });

  it('skips unacceptable candidates', () => {
    expect(
      build(state([1, 2, 3], [1, 2, 3], 1), { targetIsr: [2, 3], isAcceptableLeader: except(1, 2) }),
    ).toMatchObject({
      leader: 3,
      isr: [2, 3],
    });
  });

  it('with no candidate the leader becomes -1 and the ISR keeps its last member', () => {
    const r = build(state([1, 2], [1], 1), { targetIsr: [], isAcceptableLeader: except(1) });
    expect(r).toEqual({
      type: RecordType.PartitionChange,
      version: 0,
      topicId: 't',
      partitionId: 0,
      leader: -1,
    });
    expect(r).not.toHaveProperty('isr');
  });

  it('with no acceptable ISR member the leader becomes -1 but the ISR change is written', () => {
    expect(
      build(state([1, 2, 3], [1, 2], 1), { targetIsr: [2], isAcceptableLeader: except(1, 2) }),
    ).toMatchObject({
      leader: -1,
      isr: [2],
    });
  });

  it('a leaderless partition elects a member of its ISR once acceptable', () => {
    expect(build(state([1, 2], [2], -1))).toMatchObject({ leader: 2 });
    expect(build(state([1, 2], [2], -1), { isAcceptableLeader: except(2) })).toBeUndefined();
  });

  it('unclean election needs permission: UNCLEAN requested, or ONLINE with uncleanAllowed', () => {
    const p = state([1, 2, 3], [1], -1);
    const notOne = except(1);
    expect(build(p, { isAcceptableLeader: notOne })).toBeUndefined();
    expect(
      build(p, { isAcceptableLeader: notOne, uncleanAllowed: false, election: 'ONLINE' }),
    ).toBeUndefined();
    for (const spec of [{ uncleanAllowed: true }, { election: 'UNCLEAN' as Election }]) {
      expect(build(p, { isAcceptableLeader: notOne, ...spec })).toEqual({
        type: RecordType.PartitionChange,
        version: 0,
        topicId: 't',
        partitionId: 0,
        leader: 2,
        isr: [2],
        leaderRecoveryState: LeaderRecoveryState.Recovering,
      });
    }
  });

  it('unclean prefers a clean candidate and never picks an unacceptable replica', () => {
    expect(
      build(state([1, 2, 3], [1, 3], 1), {
        targetIsr: [3],
        election: 'UNCLEAN',
        isAcceptableLeader: except(1),
      }),
    ).toMatchObject({
      leader: 3,
      isr: [3],
    });
    expect(
      build(state([1, 2, 3], [1], -1), { election: 'UNCLEAN', isAcceptableLeader: () => false }),
    ).toBeUndefined();
  });

  it('unclean on an already RECOVERING partition does not rewrite the recovery state', () => {
    const r = build(state([1, 2, 3], [1], -1, LeaderRecoveryState.Recovering), {
      election: 'UNCLEAN',
      isAcceptableLeader: except(1),
    });
    expect(r).toMatchObject({ leader: 2, isr: [2] });
    expect(r).not.toHaveProperty('leaderRecoveryState');
  });

  it('PREFERRED never falls back to unclean', () => {
    expect(
      build(state([1, 2, 3], [1], -1), {
        election: 'PREFERRED',
        uncleanAllowed: true,
        isAcceptableLeader: except(1),
      }),
    ).toBeUndefined();
  });

  it('PREFERRED moves leadership to replicas[0] when it is valid', () => {
    expect(build(state([1, 2, 3], [1, 2, 3], 2), { election: 'PREFERRED' })).toMatchObject({ leader: 1 });
  });

  it('PREFERRED keeps a valid current leader when replicas[0] is not valid', () => {
    expect(build(state([1, 2, 3], [2, 3], 2), { election: 'PREFERRED' })).toBeUndefined();
    expect(
      build(state([1, 2, 3], [1, 2, 3], 2), { election: 'PREFERRED', isAcceptableLeader: except(1) }),
    ).toBeUndefined();
  });

  it('PREFERRED elects the first valid replica when neither replicas[0] nor the leader is valid', () => {
    expect(build(state([1, 2, 3], [3, 2], -1), { election: 'PREFERRED' })).toMatchObject({ leader: 2 });
  });

  it('ONLINE keeps a valid current leader even when it is not preferred', () => {
    expect(build(state([1, 2, 3], [1, 2, 3], 3))).toBeUndefined();
  });

  it('a replica set that drops a replica bumps the leader epoch by writing the same leader', () => {
    expect(build(state([1, 2, 3], [1, 2], 1), { targetReplicas: [1, 2], targetIsr: [1, 2] })).toMatchObject({
      leader: 1,
      replicas: [1, 2],
    });
    // Only adding a replica does not.
    expect(build(state([1, 2], [1, 2], 1), { targetReplicas: [1, 2, 3] })).toMatchObject({
      leader: -2,
      replicas: [1, 2, 3],
    });
  });

  it('writes a target leader recovery state', () => {
    expect(
      build(state([1, 2], [1], 1, LeaderRecoveryState.Recovering), {
        targetLeaderRecoveryState: LeaderRecoveryState.Recovered,
      }),
    ).toMatchObject({
      leader: -2,
      leaderRecoveryState: LeaderRecoveryState.Recovered,
    });
  });

  it('refuses malformed targets', () => {
    const p = state([1, 2, 3], [1, 2, 3], 1);
    const cases: [Partial<PartitionChangeSpec>, string, RegExp][] = [
      [{ targetReplicas: [] }, 'INVALID_REPLICA_ASSIGNMENT', /empty/],
      [{ targetReplicas: [1, 2, 2] }, 'INVALID_REPLICA_ASSIGNMENT', /broker 2 more than once/],
      [{ targetIsr: [1, 1] }, 'INVALID_REQUEST', /broker 1 more than once/],
      [{ targetIsr: [1, 4] }, 'INVALID_REQUEST', /broker 4, which is not a replica/],
      [{ targetReplicas: [1, 2] }, 'INVALID_REQUEST', /broker 3, which is not a replica/],
    ];
    for (const [spec, code, message] of cases) {
      const e = refusal(() => build(p, spec));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    }
  });

  it('never omits absent fields as undefined keys', () => {
    const r = build(state([1, 2, 3], [1, 2, 3], 1), { isAcceptableLeader: except(1) })!;
    expect(Object.keys(r).sort()).toEqual(['leader', 'partitionId', 'topicId', 'type', 'version']);
  });

  it('invariants hold for arbitrary partitions and targets', () => {
    const arb = fc
      .record({
        replicas: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 }),
        isrMask: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        targetMask: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        leaderPick: fc.integer({ min: -1, max: 4 }),
        acceptable: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        election: fc.constantFrom<Election>('ONLINE', 'PREFERRED', 'UNCLEAN'),
        uncleanAllowed: fc.boolean(),
        lrs: fc.constantFrom(LeaderRecoveryState.Recovered, LeaderRecoveryState.Recovering),
      })
      .map((a) => {
        const isr = a.replicas.filter((_, i) => a.isrMask[i]);
        if (isr.length === 0) isr.push(a.replicas[0]!);
        const leader = a.leaderPick < 0 || a.leaderPick >= isr.length ? -1 : isr[a.leaderPick]!;
        const targetIsr = isr.filter((_, i) => a.targetMask[i]);
        // As callers do: a replica leaves the ISR either as a follower the leader stops waiting for
        // (the leader stays) or because it is being fenced or shut down (then it cannot lead).
        const acceptable = [...a.acceptable];
        if (leader === -1 || !targetIsr.includes(leader)) {
          for (const r of isr) if (!targetIsr.includes(r)) acceptable[r] = false;
        }
        return { ...a, acceptable, isr, leader, targetIsr };
      });
    fc.assert(
      fc.property(arb, (a) => {
        const acceptable = (r: number) => a.acceptable[r] === true;
        const before = { ...state(a.replicas, a.isr, a.leader, a.lrs), leaderEpoch: 5, partitionEpoch: 7 };
        const r = buildPartitionChange({
          topicId: 't',
          partitionId: 0,
          partition: before,
          isAcceptableLeader: acceptable,
          targetIsr: a.targetIsr,
          election: a.election,
          uncleanAllowed: a.uncleanAllowed,
        });
        if (r === undefined) {
          // Nothing to do: the leader is either valid already or there is no candidate at all.
          expect(a.targetIsr.length === 0 || a.targetIsr.join() === a.isr.join()).toBe(true);
          return;
        }
        const after = replay(before, r);
        expect(after.isr.length).toBeGreaterThan(0);
        expect(new Set(after.isr).size).toBe(after.isr.length);
        if (after.leader !== -1) {
          expect(acceptable(after.leader)).toBe(true);
          expect(after.isr).toContain(after.leader);
        }
        const cleanPool = a.targetIsr.length > 0 ? a.targetIsr : a.isr;
        const unclean = after.leader !== -1 && !cleanPool.includes(after.leader);
        if (unclean && after.leader === a.leader) {
          expect(r.leader).toBe(-2);
          expect(after.isr).toEqual([a.leader]);
          expect(after.leaderRecoveryState).toBe(a.lrs);
        } else if (unclean) {
          expect(a.election === 'UNCLEAN' || (a.election === 'ONLINE' && a.uncleanAllowed)).toBe(true);
          expect(after.isr).toEqual([after.leader]);
          expect(after.leaderRecoveryState).toBe(LeaderRecoveryState.Recovering);
        } else if (a.targetIsr.length > 0) {
          expect(after.isr).toEqual(a.targetIsr);
        } else {
          expect(after.isr).toEqual(a.isr);
        }
        // A record with an unchanged leader never bumps the leader epoch.
        expect(after.leaderEpoch).toBe(r.leader === -2 ? 5 : 6);
        if (r.leader !== -2) expect(r.leader).not.toBe(a.leader);
        // Idempotent: the same request against the new state changes nothing.
        expect(
          buildPartitionChange({
            topicId: 't',
            partitionId: 0,
            partition: after,
            isAcceptableLeader: acceptable,
            targetIsr: unclean ? after.isr : a.targetIsr,
            election: a.election === 'PREFERRED' ? 'PREFERRED' : 'ONLINE',
          }),
        ).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });
});

// --- cluster-wide changes -------------------------------------------------------------------------

describe('fenceBrokerChanges', () => {
  const img = image({
    brokers: [{ id: 1 }, { id: 2 }, { id: 3 }],
    topics: [
      {
        name: 'a',
        partitions: [
          { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }, // 1 leads: re-elect 2
          { replicas: [2, 1, 3], isr: [2, 1, 3], leader: 2 }, // follower: shrink only
          { replicas: [2, 3], isr: [2, 3], leader: 2 }, // not involved
          { replicas: [1], isr: [1], leader: 1 }, // sole member: leaderless, ISR kept
          { replicas: [1, 2], isr: [1], leader: -1 }, // already leaderless: nothing to do
        ],
      },
    ],
  });

  it('takes the broker out of every ISR and re-elects where it led', () => {
    const recs = fenceBrokerChanges(img, 1);
    expect(recs).toEqual([
      { type: 8, version: 0, topicId: 'id-a', partitionId: 0, leader: 2, isr: [2, 3] },
      { type: 8, version: 0, topicId: 'id-a', partitionId: 1, leader: -2, isr: [2, 3] },
      { type: 8, version: 0, topicId: 'id-a', partitionId: 3, leader: -1 },
    ]);
  });

  it('controlled shutdown and unregistration make the same changes', () => {
    expect(controlledShutdownChanges(img, 1)).toEqual(fenceBrokerChanges(img, 1));
    expect(unregisterBrokerChanges(img, 1)).toEqual(fenceBrokerChanges(img, 1));
  });

  it('never elects another broker that is fenced or in controlled shutdown', () => {
    const img2 = image({
      brokers: [{ id: 1 }, { id: 2, fenced: true }, { id: 3, shutdown: true }, { id: 4 }],
      topics: [{ name: 'a', partitions: [{ replicas: [1, 2, 3, 4], isr: [1, 2, 3, 4], leader: 1 }] }],
    });
    expect(fenceBrokerChanges(img2, 1)).toMatchObject([{ leader: 4, isr: [2, 3, 4] }]);
  });

  it('falls back to an unclean election when the topic or the cluster default allows it', () => {
    const topics = [{ name: 'u', partitions: [{ replicas: [1, 2], isr: [1], leader: 1 }] }];
    const brokers = [{ id: 1 }, { id: 2 }];
    expect(fenceBrokerChanges(image({ brokers, topics }), 1)).toMatchObject([{ leader: -1 }]);
    const viaTopic = image({
      brokers,
      topics,
      topicConfigs: { u: { 'unclean.leader.election.enable': 'true' } },
    });
    expect(fenceBrokerChanges(viaTopic, 1)).toMatchObject([{ leader: 2, isr: [2], leaderRecoveryState: 1 }]);
    const viaCluster = image({
      brokers,
      topics,
      clusterDefaults: { 'unclean.leader.election.enable': 'true' },
    });
    expect(fenceBrokerChanges(viaCluster, 1)).toMatchObject([{ leader: 2, isr: [2] }]);
    const topicOverrides = image({
      brokers,
      topics,
      topicConfigs: { u: { 'unclean.leader.election.enable': 'false' } },
      clusterDefaults: { 'unclean.leader.election.enable': 'true' },
    });
    expect(fenceBrokerChanges(topicOverrides, 1)).toMatchObject([{ leader: -1 }]);
    expect(fenceBrokerChanges(image({ brokers, topics }), 1, { uncleanAllowed: () => true })).toMatchObject([
      { leader: 2 },
    ]);
  });

  // How fast this is, is measured by npm run bench:metadata (never asserted in a test).
  it('fences a broker in 60,000 ISRs, re-electing the 20,000 partitions it led', () => {
    const brokers = Array.from({ length: 12 }, (_, i) => ({ id: i + 1 }));
    const topics = [];
    // 1,000 topics x 100 partitions, RF 3; broker 1 is in 60% of the ISRs and leads a third of those.
    for (let t = 0; t < 1000; t++) {
      const partitions: PartitionRegistration[] = [];
      for (let p = 0; p < 100; p++) {
        const affected = p < 60;
        const others = [2 + ((t + p) % 11), 2 + ((t + p + 1) % 11)];
        const replicas = affected
          ? p % 3 === 0
            ? [1, ...others]
            : [...others, 1]
          : [...others, 2 + ((t + p + 2) % 11)];
        partitions.push(part({ replicas, isr: replicas, leader: replicas[0]! }));
      }
      topics.push({ name: `t${t}`, partitions });
    }
    const img2 = image({ brokers, topics });
    const recs = fenceBrokerChanges(img2, 1);
    expect(recs.length).toBe(60_000);
    expect(recs.filter((r) => r.leader !== -2).length).toBe(20_000);
  });
});

describe('unfenceBrokerChanges', () => {
  it('elects the unfenced broker where it is in the ISR of a leaderless partition, though the image still shows it fenced', () => {
    const img = image({
      brokers: [{ id: 1, fenced: true }, { id: 2, fenced: true }, { id: 3 }],
      topics: [
        {
          name: 'a',
          partitions: [
            { replicas: [2, 1], isr: [1], leader: -1 }, // 1 can lead now
            { replicas: [1, 2], isr: [2], leader: -1 }, // 1 not in ISR: stays leaderless
            { replicas: [1, 3], isr: [1, 3], leader: 3 }, // has a leader: untouched
          ],
        },
      ],
    });
    expect(unfenceBrokerChanges(img, 1)).toEqual([
      { type: 8, version: 0, topicId: 'id-a', partitionId: 0, leader: 1 },
    ]);
  });

  it('elects uncleanly where allowed', () => {
    const img = image({
      brokers: [
        { id: 1, fenced: true },
        { id: 2, fenced: true },
      ],
      topics: [{ name: 'a', partitions: [{ replicas: [1, 2], isr: [2], leader: -1 }] }],
      topicConfigs: { a: { 'unclean.leader.election.enable': 'true' } },
    });
    expect(unfenceBrokerChanges(img, 1)).toMatchObject([{ leader: 1, isr: [1], leaderRecoveryState: 1 }]);
  });
});

describe('preferred and unclean elections (ElectLeaders)', () => {
  const img = image({
    brokers: [{ id: 1 }, { id: 2 }, { id: 3, fenced: true }],
    topics: [
      {
        name: 'a',
        partitions: [
          { replicas: [1, 2], isr: [1, 2], leader: 2 }, // 0: move to 1
          { replicas: [1, 2], isr: [1, 2], leader: 1 }, // 1: not needed
          { replicas: [3, 2], isr: [3, 2], leader: 2 }, // 2: 3 fenced → not available
          { replicas: [1, 2], isr: [2], leader: 2 }, // 3: 1 not in ISR → not available
          { replicas: [3, 1, 2], isr: [3], leader: -1 }, // 4: leaderless, nothing valid
        ],
      },
    ],
  });

  it('all partitions: only moves and failures are reported', () => {
    const { records, results } = preferredElectionChanges(img);
    expect(records).toEqual([{ type: 8, version: 0, topicId: 'id-a', partitionId: 0, leader: 1 }]);
    expect(results.map((r) => [r.partition, r.error?.code])).toEqual([
      [0, undefined],
      [2, 'PREFERRED_LEADER_NOT_AVAILABLE'],
      [3, 'PREFERRED_LEADER_NOT_AVAILABLE'],
      [4, 'PREFERRED_LEADER_NOT_AVAILABLE'],
    ]);
  });

  it('a scope reports every requested partition, including unknown ones', () => {
    const { records, results } = preferredElectionChanges(img, [
      { topic: 'a', partitions: [0, 1, 2, 9] },
      { topic: 'missing', partitions: [0] },
    ]);
    expect(records.map((r) => r.partitionId)).toEqual([0]);
    expect(results.map((r) => [r.topic, r.partition, r.error?.code])).toEqual([
      ['a', 0, undefined],
      ['a', 1, 'ELECTION_NOT_NEEDED'],
      ['a', 2, 'PREFERRED_LEADER_NOT_AVAILABLE'],
      ['a', 9, 'UNKNOWN_TOPIC_OR_PARTITION'],
      ['missing', 0, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ]);
    expect(results[1]!.error!.retriable).toBe(true);
  });

  it('UNCLEAN: not needed with a leader; elects outside the ISR; else no eligible leader', () => {
    const img2 = image({
      brokers: [{ id: 1 }, { id: 2, fenced: true }],
      topics: [
        {
          name: 'b',
          partitions: [
            { replicas: [1, 2], isr: [1, 2], leader: 1 },
            { replicas: [2, 1], isr: [2], leader: -1 },
            { replicas: [2], isr: [2], leader: -1 },
          ],
        },
      ],
    });
    const { records, results } = electLeadersChanges(img2, 'UNCLEAN', [
      { topic: 'b', partitions: [0, 1, 2] },
    ]);
    expect(records).toEqual([
      { type: 8, version: 0, topicId: 'id-b', partitionId: 1, leader: 1, isr: [1], leaderRecoveryState: 1 },
    ]);
    expect(results.map((r) => r.error?.code)).toEqual([
      'ELECTION_NOT_NEEDED',
      undefined,
      'ELIGIBLE_LEADERS_NOT_AVAILABLE',
    ]);
  });
});

describe('alterPartitionChange', () => {
  const img = image({
    brokers: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4, fenced: true }, { id: 5, shutdown: true }],
    topics: [],
  });
  const p = part({ replicas: [1, 2, 3, 4, 5], isr: [1, 2], leader: 1, leaderEpoch: 4, partitionEpoch: 9 });
  const ok = {
    topicId: 't',
    partitionId: 0,
    brokerId: 1,
    leaderEpoch: 4,
    partitionEpoch: 9,
    newIsr: [
      { brokerId: 1, brokerEpoch: 11 },
      { brokerId: 2, brokerEpoch: 12 },
      { brokerId: 3, brokerEpoch: -1 },
    ],
    leaderRecoveryState: LeaderRecoveryState.Recovered as LeaderRecoveryState,
  };

  it('expands and shrinks the ISR without bumping the leader epoch', () => {
    expect(alterPartitionChange(img.cluster, p, ok)).toEqual({
      record: { type: 8, version: 0, topicId: 't', partitionId: 0, leader: -2, isr: [1, 2, 3] },
      newLeaderElected: false,
    });
    expect(
      alterPartitionChange(img.cluster, p, { ...ok, newIsr: [{ brokerId: 1, brokerEpoch: 11 }] }).record,
    ).toMatchObject({
      leader: -2,
      isr: [1],
    });
  });

  it('an unchanged ISR writes nothing', () => {
    expect(alterPartitionChange(img.cluster, p, { ...ok, newIsr: ok.newIsr.slice(0, 2) })).toEqual({
      record: undefined,
      newLeaderElected: false,
    });
  });

  it('a recovered leader clears RECOVERING', () => {
    const rec = part({ replicas: [1, 2], isr: [1], leader: 1, leaderEpoch: 4, partitionEpoch: 9, lrs: 1 });
    expect(
      alterPartitionChange(img.cluster, rec, {
        ...ok,
        newIsr: [{ brokerId: 1, brokerEpoch: -1 }],
        leaderRecoveryState: 0,
      }).record,
    ).toMatchObject({ leader: -2, leaderRecoveryState: 0 });
  });

  it('refuses every invalid request with Kafka’s code', () => {
    const cases: [Partial<typeof ok>, PartitionRegistration, string][] = [
      [{ leaderEpoch: 5 }, p, 'NOT_CONTROLLER'],
      [{ partitionEpoch: 10 }, p, 'NOT_CONTROLLER'],
      [{ brokerId: 2 }, p, 'INVALID_REQUEST'],
      [{ leaderEpoch: 3 }, p, 'FENCED_LEADER_EPOCH'],
      [{ partitionEpoch: 8 }, p, 'INVALID_UPDATE_VERSION'],
      [
        {
          newIsr: [
            { brokerId: 1, brokerEpoch: -1 },
            { brokerId: 1, brokerEpoch: -1 },
          ],
        },
        p,
        'INVALID_REQUEST',
      ],
      [
        {
          newIsr: [
            { brokerId: 1, brokerEpoch: -1 },
            { brokerId: 9, brokerEpoch: -1 },
          ],
        },
        p,
        'INVALID_REQUEST',
      ],
      [{ newIsr: [{ brokerId: 2, brokerEpoch: -1 }] }, p, 'INVALID_REQUEST'],
      [{ leaderRecoveryState: 1 }, p, 'INVALID_REQUEST'],
      [{ leaderRecoveryState: 1, newIsr: [{ brokerId: 1, brokerEpoch: -1 }] }, p, 'INVALID_REQUEST'],
      [{ newIsr: [...ok.newIsr.slice(0, 2), { brokerId: 4, brokerEpoch: -1 }] }, p, 'INELIGIBLE_REPLICA'],
      [{ newIsr: [...ok.newIsr.slice(0, 2), { brokerId: 5, brokerEpoch: -1 }] }, p, 'INELIGIBLE_REPLICA'],
      [{ newIsr: [...ok.newIsr.slice(0, 2), { brokerId: 3, brokerEpoch: 99 }] }, p, 'INELIGIBLE_REPLICA'],
    ];
    for (const [change, partition, code] of cases) {
      const e = refusal(() => alterPartitionChange(img.cluster, partition, { ...ok, ...change }));
      expect(e.code, JSON.stringify(change)).toBe(code);
    }
    const unregistered = part({ replicas: [1, 7], isr: [1], leader: 1, leaderEpoch: 4, partitionEpoch: 9 });
    const e = refusal(() =>
      alterPartitionChange(img.cluster, unregistered, {
        ...ok,
        newIsr: [ok.newIsr[0]!, { brokerId: 7, brokerEpoch: -1 }],
      }),
    );
    expect(e.code).toBe('INELIGIBLE_REPLICA');
    expect(e.message).toMatch(/7 \(not registered\)/);
  });
});
