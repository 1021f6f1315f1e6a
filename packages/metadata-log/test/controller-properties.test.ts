/**
 * Property tests: random sequences of controller operations and broker failures, checking after every
 * step that partition state stays coherent and that a follower replaying the log has the leader's image.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as h from '../src/controller/handlers.js';
import { ConfigResourceType } from '../src/records.js';
import { Harness, seeded } from './helpers/harness.js';

type Op =
  | { k: 'register'; id: number }
  | { k: 'fence'; id: number }
  | { k: 'unfence'; id: number }
  | { k: 'shutdown'; id: number }
  | { k: 'create'; name: string; partitions: number; rf: number; seed: number }
  | { k: 'delete'; name: string }
  | { k: 'grow'; name: string; by: number }
  | { k: 'expandIsr'; name: string }
  | { k: 'preferred' }
  | { k: 'unclean'; name: string; on: boolean }
  | { k: 'commit'; name: string; offset: number };

const brokerId = fc.integer({ min: 1, max: 5 });
const topicName = fc.constantFrom('a', 'b', 'c', 'd.e', 'd_e');
const op: fc.Arbitrary<Op> = fc.oneof(
  brokerId.map((id) => ({ k: 'register' as const, id })),
  brokerId.map((id) => ({ k: 'fence' as const, id })),
  brokerId.map((id) => ({ k: 'unfence' as const, id })),
  brokerId.map((id) => ({ k: 'shutdown' as const, id })),
  fc.record({
    k: fc.constant('create' as const),
    name: topicName,
    partitions: fc.integer({ min: 1, max: 4 }),
    rf: fc.integer({ min: 1, max: 3 }),
    seed: fc.integer(),
  }),
  topicName.map((name) => ({ k: 'delete' as const, name })),
  fc.record({ k: fc.constant('grow' as const), name: topicName, by: fc.integer({ min: 1, max: 3 }) }),
  topicName.map((name) => ({ k: 'expandIsr' as const, name })),
  fc.constant({ k: 'preferred' as const }),
  fc.record({ k: fc.constant('unclean' as const), name: topicName, on: fc.boolean() }),
  fc.record({ k: fc.constant('commit' as const), name: topicName, offset: fc.nat() }),
);

function step(t: Harness, o: Op): void {
  const img = t.image;
  switch (o.k) {
    case 'register':
      if (img.cluster.broker(o.id) !== undefined) return;
      t.brokers([o.id], 2);
      return;
    case 'fence':
      t.apply(h.fenceBroker(img, o.id));
      return;
    case 'unfence':
      t.apply(h.unfenceBroker(img, o.id));
      return;
    case 'shutdown':
      if (img.cluster.broker(o.id)?.fenced === false) t.apply(h.beginControlledShutdown(img, o.id));
      return;
    case 'create':
      t.run(
        h.createTopics(img, [{ name: o.name, numPartitions: o.partitions, replicationFactor: o.rf }], {
          validateOnly: false,
          defaults: { numPartitions: 1, replicationFactor: 1 },
          random: seeded(o.seed),
        }),
      );
      return;
    case 'delete':
      t.run(h.deleteTopics(img, { names: [o.name] }));
      return;
    case 'grow': {
      const topic = img.topics.byName(o.name);
      if (topic)
        t.run(h.createPartitions(img, [{ name: o.name, count: topic.partitions.length + o.by }], false));
      return;
    }
    case 'expandIsr': {
      // Each partition leader asks to add every usable replica back (what a real leader does once they catch up).
      const topic = img.topics.byName(o.name);
      if (!topic) return;
      topic.partitions.forEach((_p, partitionId) => {
        const cur = t.image.topics.byId(topic.id)?.partitions[partitionId];
        if (!cur || cur.leader < 0) return;
        const usable = cur.replicas.filter((r) => {
          const b = t.image.cluster.broker(r);
          return b !== undefined && !b.fenced && !b.inControlledShutdown;
        });
        const isr = [...new Set([...cur.isr, ...usable])];
        try {
          t.run(
            h.alterPartition(t.image, {
              topicId: topic.id,
              partitionId,
              brokerId: cur.leader,
              brokerEpoch: t.image.cluster.broker(cur.leader)!.epoch,
              leaderEpoch: cur.leaderEpoch,
              partitionEpoch: cur.partitionEpoch,
              leaderRecoveryState: 0,
              newIsr: isr.map((id) => ({
                brokerId: id,
                brokerEpoch: t.image.cluster.broker(id)?.epoch ?? -1,
              })),
            }),
          );
        } catch {
          // Refusals (e.g. a leader in controlled shutdown) are fine here; state must stay coherent.
        }
      });
      return;
    }
    case 'preferred':
      t.run(h.electLeaders(img, 'PREFERRED'));
      return;
    case 'unclean':
      if (img.topics.byName(o.name)) {
        t.run(
          h.alterConfigs(
            img,
            [
              {
                resourceType: ConfigResourceType.Topic,
                resourceName: o.name,
                alterations: [{ name: 'unclean.leader.election.enable', op: 'set', value: String(o.on) }],
              },
            ],
            false,
          ),
        );
      }
      return;
    case 'commit':
      t.run(h.commitOffsets(img, 'g', [{ topic: o.name, partition: 0, offset: o.offset }], t.nowMs));
      return;
  }
}

function checkInvariants(t: Harness, epochs: Map<string, number>): void {
  const img = t.image;
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const topic of img.topics.topics()) {
    expect(names.has(topic.name)).toBe(false);
    expect(ids.has(topic.id)).toBe(false);
    names.add(topic.name);
    ids.add(topic.id);
    expect(img.topics.byName(topic.name)?.id).toBe(topic.id);
    topic.partitions.forEach((p, i) => {
      expect(p.isr.length).toBeGreaterThan(0);
      for (const r of p.isr) expect(p.replicas).toContain(r);
      if (p.leader !== -1) {
        expect(p.isr).toContain(p.leader);
        expect(img.cluster.broker(p.leader)?.fenced).toBe(false);
      }
      const key = `${topic.id}/${i}`;
      expect(p.leaderEpoch).toBeGreaterThanOrEqual(epochs.get(key) ?? 0);
      epochs.set(key, p.leaderEpoch);
    });
  }
  expect(img.topics.topicCount).toBe(names.size);
}

describe('controller properties', () => {
  it('random operations and broker failures keep partitions coherent; a follower replay equals the leader', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const t = new Harness();
        t.brokers([1, 2, 3], 2);
        const epochs = new Map<string, number>();
        for (const o of ops) {
          step(t, o);
          checkInvariants(t, epochs);
        }
        expect(t.replayAll().equals(t.image)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
