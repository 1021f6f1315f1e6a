/**
 * Every node serves the same znodes: a tree's stats are a function of the replicated metadata, so trees
 * over state machines that reached the same offset by different roads (following the log from the
 * start, loaded from a snapshot taken mid-way, restarted from the start or from a snapshot) agree on
 * every znode, data and stat, byte for byte.
 */
import { MetadataStateMachine, readSnapshot } from '@kbroker/metadata-log';
import type { Entry } from '@kbroker/raft';
import { describe, expect, it, vi } from 'vitest';
import { walk } from '../src/layout.js';
import { MetadataZnodeTree } from '../src/tree.js';
import type { Znode, ZnodeTreeSnapshot } from '../src/types.js';
import {
  brokerConfig,
  commit,
  deleteOffsets,
  feature,
  fence,
  MetadataLog,
  partitionChange,
  registerBroker,
  removeTopic,
  sampleCluster,
  T,
  topic,
  topicConfig,
  unregister,
} from './fixtures/metadata.js';

const CONTROLLER = () => 1;

function machine(image?: MetadataStateMachine['image']): MetadataStateMachine {
  return new MetadataStateMachine({
    image,
    onListenerError: (err) => {
      throw err;
    },
  });
}

/** A node that replays `entries` from the start in one go, then starts its tree (a restart). */
function replayed(entries: readonly Entry[]): MetadataZnodeTree {
  const sm = machine();
  sm.apply(entries);
  return new MetadataZnodeTree(sm, { controllerId: CONTROLLER });
}

/** A node that loads a snapshot of `sm`'s image, then starts its tree (a restart from a snapshot). */
async function restored(
  sm: MetadataStateMachine,
): Promise<{ sm: MetadataStateMachine; tree: MetadataZnodeTree }> {
  const loaded = machine(await readSnapshot(sm.snapshot()));
  return { sm: loaded, tree: new MetadataZnodeTree(loaded, { controllerId: CONTROLLER }) };
}

type Dump = Map<string, { znode: Znode; children: readonly string[] }>;

function dump(s: ZnodeTreeSnapshot): Dump {
  const out: Dump = new Map();
  for (const p of walk(s)) out.set(p, { znode: s.get(p)!, children: s.children(p)! });
  return out;
}

const stat = (s: ZnodeTreeSnapshot, path: string) => s.get(path)!.stat;

describe('znode stats are the same on every node and after restarts', () => {
  it('trees from the start, from a mid-way snapshot, restarted and restored agree on every znode', async () => {
    const log = new MetadataLog();
    const live = new MetadataZnodeTree(log.sm, { controllerId: CONTROLLER });
    let mid: { sm: MetadataStateMachine; tree: MetadataZnodeTree } | undefined;
    /** The mid-way node follows the log as a follower does: the entries it has not applied yet. */
    const catchUp = () => mid?.sm.apply(log.entries.filter((e) => e.index > mid!.sm.image.provenance.offset));
    const compare = async (step: string) => {
      catchUp();
      const want = dump(live.current());
      const others: [string, ZnodeTreeSnapshot][] = [
        ['replayed from the start', replayed(log.entries).current()],
        ['restored from a snapshot', (await restored(log.sm)).tree.current()],
      ];
      if (mid !== undefined) others.push(['loaded mid-way, then followed', mid.tree.current()]);
      for (const [how, s] of others) expect(dump(s), `${how}, after ${step}`).toEqual(want);
    };

    const { epochs } = sampleCluster(log);
    await compare('the sample cluster');
    const payments0 = stat(live.current(), '/brokers/topics');
    const deleted = log.apply(removeTopic(T.payments));
    await compare('a topic deletion');
    expect(stat(live.current(), '/brokers/topics')).toMatchObject({
      cversion: payments0.cversion + 1,
      pzxid: BigInt(deleted),
    });
    log.apply(fence(3, epochs[3]!, 1));
    await compare('a broker fenced');

    mid = await restored(log.sm);
    const term2 = log.newTerm();
    const moved = log.apply(partitionChange(T.orders, 0, { leader: 2 }));
    await compare('a leader change in a new term');
    const state = live.current().get('/brokers/topics/orders/partitions/0/state')!;
    expect(JSON.parse(new TextDecoder().decode(state.data!)).controller_epoch).toBe(2);
    expect(state.stat.mzxid).toBe(BigInt(moved));
    expect(stat(live.current(), '/controller')).toMatchObject({ czxid: BigInt(term2), version: 0 });
    expect(stat(live.current(), '/controller_epoch')).toMatchObject({ mzxid: BigInt(term2), version: 2 });

    const emptied = log.apply(topicConfig('orders', 'retention.ms', null));
    await compare('a topic config emptied');
    expect(stat(live.current(), '/config/topics/orders')).toMatchObject({
      version: 1,
      mzxid: BigInt(emptied),
    });
    const unfenced = log.apply(fence(3, epochs[3]!, -1));
    await compare('a broker unfenced');
    expect(stat(live.current(), '/brokers/ids')).toMatchObject({ pzxid: BigInt(unfenced), numChildren: 3 });
    expect(stat(live.current(), '/brokers/ids/3').czxid).toBe(BigInt(epochs[3]!));
    log.apply(brokerConfig('1', 'log.cleaner.threads', null));
    await compare('a broker config removed');
    const f = log.apply(feature('metadata.version', 8));
    await compare('a feature change');
    expect(stat(live.current(), '/feature')).toMatchObject({ version: 1, mzxid: BigInt(f) });
    log.apply(...topic('payments', T.again, [[1], [2]]));
    log.apply(topicConfig('orders', 'cleanup.policy', 'compact'));
    await compare('a topic re-created and a config set again');
    expect(stat(live.current(), '/config/topics/orders').version).toBe(2);

    log.newTerm();
    log.apply(partitionChange(T.orders, 1, { leader: 3 }));
    const reregistered = log.apply(registerBroker(2));
    log.apply(fence(2, reregistered, -1));
    log.apply(unregister(1, epochs[1]!));
    await compare('a third term, a broker re-registered and one unregistered');
    log.apply(commit('g1', 'payments', 0, 1), commit('g2', 'orders', 1, 5), commit('g1', 'orders', 1, 3));
    log.apply(deleteOffsets('g1', 'orders', 0));
    log.apply(deleteOffsets('g1', 'payments'));
    log.apply(deleteOffsets('g2'));
    await compare('offsets deleted by partition, topic and group');
    log.apply(topicConfig('ghost', 'x', '1'));
    log.apply(topicConfig('ghost', 'x', null));
    log.apply(feature('kraft.version', 1));
    await compare('a config of no topic set and emptied');
    expect(stat(live.current(), '/feature').version).toBe(2);
  });

  it('a random run: every image of a restarted node equals the live one', async () => {
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const { log, epochs } = sampleCluster();
    const live = new MetadataZnodeTree(log.sm, { controllerId: CONTROLLER });
    const names = new Map<string, string>([
      [T.orders, 'orders'],
      [T.payments, 'payments'],
    ]);
    let next = 10;
    const failures: string[] = [];
    for (let step = 0; step < 120; step++) {
      const existing = [...names.keys()];
      const id = existing[rnd(Math.max(existing.length, 1))];
      switch (rnd(9)) {
        case 0: {
          const fresh = `AAAAAAAAAAAAAAAAAAA${String(next++).padStart(3, '0')}`;
          const name = `t${rnd(4)}`;
          if ([...names.values()].includes(name)) break;
          names.set(fresh, name);
          log.apply(...topic(name, fresh, [[1 + rnd(3)], [1 + rnd(3)]]));
          break;
        }
        case 1:
          if (id === undefined) break;
          log.apply(removeTopic(id));
          names.delete(id);
          break;
        case 2:
          if (id === undefined) break;
          log.apply(partitionChange(id, rnd(2), { leader: 1 + rnd(3) }));
          break;
        case 3: {
          const b = 1 + rnd(3);
          log.apply(fence(b, epochs[b]!, rnd(2) === 0 ? 1 : -1));
          break;
        }
        case 4:
          log.apply(
            topicConfig(id === undefined ? 'none' : names.get(id)!, `k${rnd(2)}`, rnd(2) ? null : 'v'),
          );
          break;
        case 5:
          log.apply(brokerConfig(rnd(2) ? '' : '2', 'x', rnd(2) ? null : String(rnd(9))));
          break;
        case 6:
          log.apply(commit(`g${rnd(2)}`, id === undefined ? 'gone' : names.get(id)!, rnd(3), rnd(99)));
          break;
        case 7:
          log.apply(
            deleteOffsets(
              `g${rnd(2)}`,
              rnd(2) ? undefined : (names.get(id ?? '') ?? 'gone'),
              rnd(2) ? undefined : rnd(3),
            ),
          );
          break;
        default:
          if (rnd(2) === 0) log.newTerm();
          else log.apply(feature('metadata.version', 7 + rnd(3)));
      }
      if (step % 10 !== 9) continue;
      const want = dump(live.current());
      const got = [dump(replayed(log.entries).current()), dump((await restored(log.sm)).tree.current())];
      for (const d of got) {
        for (const [p, v] of want) {
          const w = d.get(p);
          if (w === undefined) failures.push(`step ${step}: ${p} missing`);
          else if (JSON.stringify(w, big) !== JSON.stringify(v, big))
            failures.push(`step ${step}: ${p} differs`);
        }
        if (d.size !== want.size) failures.push(`step ${step}: ${d.size} znodes, live has ${want.size}`);
      }
    }
    expect(failures).toEqual([]);
    // The run did what it is meant to: deletions and terms happened.
    expect(log.image.topics.removedCount).toBeGreaterThan(0);
    expect(log.image.terms.count).toBeGreaterThan(2);
  });
});

describe('parent stats cost no child list', () => {
  it("a topic's creation restats /brokers/topics and /config/topics without listing the topics", () => {
    const { log } = sampleCluster();
    log.apply(topicConfig('ghost', 'x', '1'));
    const live = new MetadataZnodeTree(log.sm, { controllerId: CONTROLLER });
    const before = live.current();
    const names = vi.spyOn(Object.getPrototypeOf(log.image.topics), 'names');
    try {
      const created = log.apply(...topic('fresh', 'AAAAAAAAAAAAAAAAAAAABA', [[1], [2]]));
      const after = live.current();
      expect(stat(after, '/brokers/topics')).toMatchObject({
        numChildren: stat(before, '/brokers/topics').numChildren + 1,
        pzxid: BigInt(created),
      });
      // `ghost` has configs and no topic: one more child than the topics.
      expect(stat(after, '/config/topics')).toMatchObject({
        numChildren: stat(after, '/brokers/topics').numChildren + 1,
        pzxid: BigInt(created),
      });
      expect(names).not.toHaveBeenCalled();
      expect(after.children('/config/topics')).toContain('ghost');
      expect(names).toHaveBeenCalled();
    } finally {
      names.mockRestore();
    }
  });
});

const big = (_: string, v: unknown) =>
  typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v;
