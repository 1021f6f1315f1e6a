import { describe, expect, it } from 'vitest';
import { joinPath, walk } from '../src/layout.js';
import { MetadataZnodeTree } from '../src/tree.js';
import type { ZnodeChange, ZnodeTreeSnapshot } from '../src/types.js';
import {
  brokerConfig,
  cluster,
  commit,
  deleteOffsets,
  feature,
  fence,
  MetadataLog,
  partition,
  partitionChange,
  registerBroker,
  removeTopic,
  sampleCluster,
  T,
  topic,
  topicConfig,
  unregister,
} from './fixtures/metadata.js';

/** A tree over a log, recording every notification. */
function follow(log: MetadataLog, controllerId?: () => number) {
  const tree = new MetadataZnodeTree(log.sm, controllerId ? { controllerId } : {});
  const seen: { zxid: bigint; changes: readonly ZnodeChange[] }[] = [];
  tree.onChange((s, changes) => seen.push({ zxid: s.zxid, changes }));
  const last = () => seen[seen.length - 1]!.changes;
  return { tree, seen, last };
}

const fmt = (cs: readonly ZnodeChange[]) => cs.map((c) => `${c.kind} ${c.path}`);

/**
 * The reference the tree's incremental diff must agree with: every znode of both snapshots compared
 * (created/deleted/re-created by czxid, data by bytes/version/mzxid, children by the child set).
 */
function bruteForce(prev: ZnodeTreeSnapshot, next: ZnodeTreeSnapshot): Set<string> {
  const out = new Set<string>();
  const paths = new Set([...walk(prev), ...walk(next)]);
  for (const p of paths) {
    const a = prev.get(p);
    const b = next.get(p);
    if (a === undefined) out.add(`created ${p}`);
    else if (b === undefined) out.add(`deleted ${p}`);
    else if (a.stat.czxid !== b.stat.czxid) out.add(`deleted ${p}`).add(`created ${p}`);
    else if (
      a.stat.version !== b.stat.version ||
      a.stat.mzxid !== b.stat.mzxid ||
      Buffer.compare(Buffer.from(a.data ?? []), Buffer.from(b.data ?? [])) !== 0
    )
      out.add(`data ${p}`);
    const before = new Set(
      (prev.children(p) ?? []).map((n) => `${n}@${prev.get(joinPath(p, n))!.stat.czxid}`),
    );
    const after = new Set(
      (next.children(p) ?? []).map((n) => `${n}@${next.get(joinPath(p, n))!.stat.czxid}`),
    );
    if (before.size !== after.size || [...before].some((x) => !after.has(x))) out.add(`children ${p}`);
  }
  return out;
}

describe('MetadataZnodeTree: notifications', () => {
  it('topic creation: the subtree created parents first, then the parents’ child lists', () => {
    const { log } = sampleCluster();
    const { tree, last } = follow(log);
    const offset = log.apply(...topic('audit', T.again, [[1], [2]]));
    expect(tree.current().zxid).toBe(BigInt(offset));
    expect(fmt(last())).toEqual([
      // Kafka's admin path wrote the config first, then the assignment.
      'created /config/topics/audit',
      'created /brokers/topics/audit',
      'created /brokers/topics/audit/partitions',
      'created /brokers/topics/audit/partitions/0',
      'created /brokers/topics/audit/partitions/1',
      'created /brokers/topics/audit/partitions/0/state',
      'created /brokers/topics/audit/partitions/1/state',
      'children /config/topics',
      'children /brokers/topics',
      'children /brokers/topics/audit',
      'children /brokers/topics/audit/partitions',
      'children /brokers/topics/audit/partitions/0',
      'children /brokers/topics/audit/partitions/1',
    ]);
  });

  it('topic deletion: children first; /brokers/topics cversion counts it, pzxid is the deletion', () => {
    const { log } = sampleCluster();
    const { tree, last } = follow(log);
    const before = tree.current().get('/brokers/topics')!.stat;
    const offset = log.apply(removeTopic(T.payments));
    expect(fmt(last())).toEqual([
      'deleted /brokers/topics/payments/partitions/0/state',
      'children /brokers/topics/payments/partitions/0',
      'deleted /brokers/topics/payments/partitions/0',
      'children /brokers/topics/payments/partitions',
      'deleted /brokers/topics/payments/partitions',
      'children /brokers/topics/payments',
      'deleted /brokers/topics/payments',
      'children /brokers/topics',
      'deleted /config/topics/payments',
      'children /config/topics',
    ]);
    const after = tree.current().get('/brokers/topics')!.stat;
    expect(after).toMatchObject({
      numChildren: before.numChildren - 1,
      cversion: before.cversion + 1,
      pzxid: BigInt(offset),
    });
    expect(tree.current().get('/config/topics')!.stat.cversion).toBe(before.cversion + 1);
    // Re-created under the same name: a fresh znode (new czxid), cversion counts create, delete, create.
    const again = log.apply(...topic('payments', T.again, [[3]]));
    expect(tree.current().get('/brokers/topics/payments')!.stat.czxid).toBe(BigInt(again));
    expect(tree.current().get('/brokers/topics')!.stat.cversion).toBe(before.cversion + 2);
  });

  it('partition leader change: one data change of the state znode, version = partition epoch', () => {
    const { log } = sampleCluster();
    const { tree, last } = follow(log);
    const term = log.newTerm();
    // No controller known: only the epoch moves.
    expect(fmt(last())).toEqual(['data /controller_epoch']);
    const offset = log.apply(partitionChange(T.orders, 2, { leader: 1 }));
    expect(fmt(last())).toEqual(['data /brokers/topics/orders/partitions/2/state']);
    const z = tree.current().get('/brokers/topics/orders/partitions/2/state')!;
    expect(z.stat).toMatchObject({ version: 1, mzxid: BigInt(offset) });
    expect(offset).toBeGreaterThan(term);
    expect(JSON.parse(new TextDecoder().decode(z.data!))).toMatchObject({
      leader: 1,
      leader_epoch: 1,
      controller_epoch: 2,
    });
    // Written in term 1 and untouched: still says 1.
    const old = tree.current().get('/brokers/topics/orders/partitions/0/state')!;
    expect(JSON.parse(new TextDecoder().decode(old.data!)).controller_epoch).toBe(1);
  });

  it('a replica change also changes the topic znode (its assignment)', () => {
    const { log } = sampleCluster();
    const { last } = follow(log);
    log.apply(partitionChange(T.orders, 0, { replicas: [1, 2, 4], isr: [1, 2] }));
    expect(fmt(last())).toEqual([
      'data /brokers/topics/orders',
      'data /brokers/topics/orders/partitions/0/state',
    ]);
    log.apply(partition(T.orders, 3, [4, 1]));
    expect(fmt(last())).toEqual(
      [
        'created /brokers/topics/orders/partitions/3',
        'data /brokers/topics/orders',
        'created /brokers/topics/orders/partitions/3/state',
        'children /brokers/topics/orders/partitions',
        'children /brokers/topics/orders/partitions/3',
      ].sort((a, b) => order(a) - order(b)),
    );
  });

  it('broker fenced and unfenced: /brokers/ids children watch fires both ways', () => {
    const { log, epochs } = sampleCluster();
    const { tree, last } = follow(log);
    const ids = () => tree.current().get('/brokers/ids')!.stat;
    const before = ids();
    const fenced = log.apply(fence(3, epochs[3]!, 1));
    expect(fmt(last())).toEqual(['deleted /brokers/ids/3', 'children /brokers/ids']);
    expect(tree.current().children('/brokers/ids')!.slice().sort()).toEqual(['1', '2']);
    expect(ids()).toMatchObject({ cversion: before.cversion + 1, pzxid: BigInt(fenced), numChildren: 2 });
    const unfenced = log.apply(fence(3, epochs[3]!, -1));
    expect(fmt(last())).toEqual(['created /brokers/ids/3', 'children /brokers/ids']);
    // Same registration: same czxid (the broker epoch) and owner; the parent saw it appear now.
    expect(tree.current().get('/brokers/ids/3')!.stat.czxid).toBe(BigInt(epochs[3]!));
    expect(ids()).toMatchObject({ cversion: before.cversion + 2, pzxid: BigInt(unfenced), numChildren: 3 });
    // A new registration (a bounced broker) is a new znode, fenced until the controller unfences it.
    const epoch = log.apply(registerBroker(3));
    expect(fmt(last())).toEqual(['deleted /brokers/ids/3', 'children /brokers/ids']);
    log.apply(fence(3, epoch, -1));
    expect(tree.current().get('/brokers/ids/3')!.stat.czxid).toBe(BigInt(epoch));
    log.apply(unregister(1, epochs[1]!));
    expect(fmt(last())).toEqual(['deleted /brokers/ids/1', 'children /brokers/ids']);
    // Registering fenced shows nothing.
    log.apply(registerBroker(9));
    expect(fmt(last())).toEqual([]);
  });

  it('config changes: data with a rising version, even when the image drops the emptied resource', () => {
    const { log } = sampleCluster();
    const { tree, last } = follow(log);
    const v = () => tree.current().get('/config/topics/payments')!.stat;
    expect(v().version).toBe(0);
    log.apply(topicConfig('payments', 'retention.ms', '1000'));
    expect(fmt(last())).toEqual(['data /config/topics/payments']);
    expect(v().version).toBe(1);
    const emptied = log.apply(topicConfig('payments', 'retention.ms', null));
    expect(fmt(last())).toEqual(['data /config/topics/payments']);
    expect(v()).toMatchObject({ version: 2, mzxid: BigInt(emptied) });
    const again = log.apply(topicConfig('payments', 'retention.ms', '5'));
    expect(v()).toMatchObject({ version: 3, mzxid: BigInt(again) });
    // Broker configs: the znode comes and goes with the resource.
    log.apply(brokerConfig('2', 'num.network.threads', '8'));
    expect(fmt(last())).toEqual(['created /config/brokers/2', 'children /config/brokers']);
    log.apply(brokerConfig('', 'num.io.threads', '32'));
    expect(fmt(last())).toEqual(['data /config/brokers/<default>']);
    log.apply(brokerConfig('2', 'num.network.threads', null));
    expect(fmt(last())).toEqual(['deleted /config/brokers/2', 'children /config/brokers']);
  });

  it('offset commits: a new group creates its chain, a commit changes data, deletes remove it', () => {
    const { log } = sampleCluster();
    const { tree, last } = follow(log);
    log.apply(commit('g2', 'payments', 0, 3));
    expect(fmt(last())).toEqual([
      'created /consumers/g2',
      'created /consumers/g2/offsets',
      'created /consumers/g2/offsets/payments',
      'created /consumers/g2/offsets/payments/0',
      'children /consumers',
      'children /consumers/g2',
      'children /consumers/g2/offsets',
      'children /consumers/g2/offsets/payments',
    ]);
    log.apply(commit('g2', 'payments', 0, 9));
    expect(fmt(last())).toEqual(['data /consumers/g2/offsets/payments/0']);
    expect(tree.current().get('/consumers/g2/offsets/payments/0')!.stat.version).toBe(1);
    log.apply(commit('g1', 'orders', 2, 8), commit('g1', 'payments', 0, 1));
    expect(fmt(last())).toEqual(
      [
        'created /consumers/g1/offsets/payments',
        'data /consumers/g1/offsets/orders/2',
        'created /consumers/g1/offsets/payments/0',
        'children /consumers/g1/offsets',
        'children /consumers/g1/offsets/payments',
      ].sort((a, b) => order(a) - order(b)),
    );
    log.apply(deleteOffsets('g2'));
    expect(fmt(last())).toEqual([
      'deleted /consumers/g2/offsets/payments/0',
      'children /consumers/g2/offsets/payments',
      'deleted /consumers/g2/offsets/payments',
      'children /consumers/g2/offsets',
      'deleted /consumers/g2/offsets',
      'children /consumers/g2',
      'deleted /consumers/g2',
      'children /consumers',
    ]);
  });

  it('features and the cluster id: /feature’s version counts its changes', () => {
    const log = new MetadataLog();
    const { tree, last } = follow(log);
    log.apply(cluster('c1'), feature('metadata.version', 7));
    expect(fmt(last())).toEqual(
      [
        'created /cluster/id',
        'created /controller_epoch',
        'created /feature',
        'children /',
        'children /cluster',
      ].sort((a, b) => order(a) - order(b)),
    );
    const f1 = log.apply(feature('metadata.version', 8));
    expect(fmt(last())).toEqual(['data /feature']);
    expect(tree.current().get('/feature')!.stat).toMatchObject({ version: 1, mzxid: BigInt(f1) });
    log.apply(feature('kraft.version', 1));
    expect(tree.current().get('/feature')!.stat.version).toBe(2);
  });

  it('controller changes: /controller re-created, /controller_epoch data', () => {
    const { log } = sampleCluster();
    let leader = 1;
    const { tree, last } = follow(log, () => leader);
    expect(tree.current().get('/controller')).toBeDefined();
    leader = 2;
    const took = log.newTerm();
    // Re-created (KIP-866 takeover: delete, then create): the root's child list changed too.
    expect(fmt(last())).toEqual([
      'deleted /controller',
      'children /',
      'created /controller',
      'data /controller_epoch',
    ]);
    const c = tree.current();
    expect(JSON.parse(new TextDecoder().decode(c.get('/controller')!.data!))).toMatchObject({
      brokerid: 2,
      kraftControllerEpoch: 2,
    });
    expect(c.get('/controller')!.stat).toMatchObject({ czxid: BigInt(took), ephemeralOwner: 0n });
    expect(c.get('/controller_epoch')!.stat).toMatchObject({ version: 2, mzxid: BigInt(took) });
    leader = -1;
    log.apply(commit('g1', 'orders', 0, 1));
    expect(fmt(last())).toContain('deleted /controller');
  });

  it('zxids move forward with every image, and changes come in zxid order', () => {
    const { log } = sampleCluster();
    const { seen } = follow(log);
    log.apply(partitionChange(T.orders, 0, { leader: 2 }));
    log.newTerm();
    log.applyAll([partitionChange(T.orders, 1, { leader: 3 })], [removeTopic(T.payments)]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.zxid > seen[i - 1]!.zxid).toBe(true);
    // One image covering two offsets: the partition change (its own mzxid) before the deletion.
    expect(fmt(seen[seen.length - 1]!.changes)[0]).toBe('data /brokers/topics/orders/partitions/1/state');
  });

  it('computes changes only while a listener wants them; snapshots move either way', () => {
    const { log } = sampleCluster();
    const tree = new MetadataZnodeTree(log.sm);
    let wanted = false;
    const quiet: string[][] = [];
    const off = tree.onChange(
      (_s, changes) => quiet.push(fmt(changes)),
      () => wanted,
    );
    log.apply(commit('g2', 'payments', 0, 3));
    log.apply(commit('g2', 'payments', 0, 4));
    expect(quiet).toEqual([[], []]);
    expect(tree.current().get('/consumers/g2/offsets/payments/0')!.stat.version).toBe(1);
    wanted = true;
    log.apply(commit('g2', 'payments', 0, 5));
    expect(quiet.at(-1)).toEqual(['data /consumers/g2/offsets/payments/0']);
    // A listener that does not say (the default) always wants them, for everyone.
    wanted = false;
    const plain: string[][] = [];
    tree.onChange((_s, changes) => plain.push(fmt(changes)));
    log.apply(commit('g2', 'payments', 1, 1));
    expect(plain).toEqual([
      ['created /consumers/g2/offsets/payments/1', 'children /consumers/g2/offsets/payments'],
    ]);
    expect(quiet.at(-1)).toEqual(plain[0]);
    off();
  });

  it('stat(path) equals get(path).stat for every znode', () => {
    const { log } = sampleCluster();
    const tree = new MetadataZnodeTree(log.sm, { controllerId: () => 1 });
    log.apply(commit('g1', 'orders', 2, 8), commit('g2', 'payments', 0, 1));
    log.apply(topicConfig('payments', 'retention.ms', '1000'), brokerConfig('', 'a', 'b'));
    const s = tree.current();
    const paths = [...walk(s)];
    expect(paths.length).toBeGreaterThan(40);
    for (const p of paths) expect([p, s.stat(p)]).toEqual([p, s.get(p)!.stat]);
    expect(s.stat('/consumers/g1/offsets/orders/9')).toBeUndefined();
    expect(s.stat('/no/such')).toBeUndefined();
  });

  it('an old snapshot keeps answering the same after later changes', () => {
    const { log } = sampleCluster();
    const { tree } = follow(log);
    const s = tree.current();
    const before = [...walk(s)].map((p) => [p, s.get(p)]);
    log.apply(removeTopic(T.orders));
    log.apply(topicConfig('payments', 'a', 'b'));
    log.apply(fence(1, 2, 1));
    expect([...walk(s)].map((p) => [p, s.get(p)])).toEqual(before);
  });

  it('agrees with a full comparison of both trees over a random run', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const { log, epochs } = sampleCluster();
    let leader = 1;
    const tree = new MetadataZnodeTree(log.sm, { controllerId: () => leader });
    let prev: ZnodeTreeSnapshot = tree.current();
    const failures: string[] = [];
    tree.onChange((next, changes) => {
      const got = new Set(changes.map((c) => `${c.kind} ${c.path}`));
      const want = bruteForce(prev, next);
      const missing = [...want].filter((x) => !got.has(x));
      const extra = [...got].filter((x) => !want.has(x));
      if (missing.length + extra.length > 0) failures.push(JSON.stringify({ missing, extra }));
      // Stats stay consistent with the tree after every image.
      for (const p of walk(next)) {
        const z = next.get(p)!;
        if (z.stat.numChildren !== next.children(p)!.length) failures.push(`numChildren ${p}`);
        if (z.stat.mzxid > next.zxid || z.stat.pzxid > next.zxid) failures.push(`future zxid ${p}`);
        const old = prev.get(p);
        if (old !== undefined && old.stat.czxid === z.stat.czxid) {
          if (z.stat.version < old.stat.version || z.stat.cversion < old.stat.cversion)
            failures.push(`version went back ${p}`);
          if (z.stat.mzxid < old.stat.mzxid || z.stat.pzxid < old.stat.pzxid)
            failures.push(`zxid went back ${p}`);
        }
      }
      prev = next;
    });
    const topics = new Map<string, string>([
      ['orders', T.orders],
      ['payments', T.payments],
    ]);
    let nextId = 100;
    for (let step = 0; step < 150; step++) {
      const names = [...topics.keys()];
      const name = names[rnd(Math.max(names.length, 1))];
      switch (rnd(11)) {
        case 0: {
          const id = `AAAAAAAAAAAAAAAAAAA${String(nextId++).padStart(3, '0')}`;
          const n = `t${rnd(6)}`;
          if (topics.has(n)) break;
          topics.set(n, id);
          log.apply(
            ...topic(
              n,
              id,
              Array.from({ length: 1 + rnd(3) }, () => [1 + rnd(3)]),
            ),
          );
          break;
        }
        case 1:
          if (name === undefined) break;
          log.apply(removeTopic(topics.get(name)!));
          topics.delete(name);
          break;
        case 2:
          if (name === undefined) break;
          log.apply(partitionChange(topics.get(name)!, 0, { leader: 1 + rnd(3) }));
          break;
        case 3: {
          const id = 1 + rnd(3);
          log.apply(fence(id, epochs[id]!, rnd(2) === 0 ? 1 : -1));
          break;
        }
        case 4:
          if (name === undefined) break;
          log.apply(topicConfig(name, `k${rnd(2)}`, rnd(2) === 0 ? null : String(rnd(9))));
          break;
        case 5:
          log.apply(brokerConfig(rnd(2) === 0 ? '' : '2', 'x', rnd(2) === 0 ? null : String(rnd(9))));
          break;
        case 6:
          log.apply(commit(`g${rnd(3)}`, name ?? 'gone', rnd(3), rnd(1000)));
          break;
        case 7:
          log.apply(
            deleteOffsets(
              `g${rnd(3)}`,
              rnd(2) === 0 ? undefined : (name ?? 'gone'),
              rnd(2) === 0 ? undefined : rnd(3),
            ),
          );
          break;
        case 8:
          leader = rnd(3) === 0 ? -1 : 1 + rnd(3);
          log.newTerm();
          break;
        case 9:
          log.apply(feature('metadata.version', 7 + rnd(3)));
          break;
        default: {
          if (name === undefined) break;
          const t = log.image.topics.byName(name)!;
          log.apply(partition(t.id, t.partitions.length, [1 + rnd(3)]));
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('MetadataZnodeTree: cost', () => {
  it('a small change in a 10,000-topic x 10-partition cluster touches only what changed', () => {
    const log = new MetadataLog();
    const tree = new MetadataZnodeTree(log.sm);
    const batches = [];
    for (let t = 0; t < 10_000; t++) {
      const id = `topic-${String(t).padStart(15, '0')}`;
      batches.push([
        { type: 6 as const, version: 0 as const, name: `t${t}`, topicId: id },
        ...Array.from({ length: 10 }, (_, p) => partition(id, p, [1, 2, 3])),
      ]);
    }
    let count = 0;
    tree.onChange((_, changes) => {
      count = changes.length;
    });
    log.applyAll(...batches);
    // Each topic: itself, its config, partitions, 10 x (partition, state), and their child lists; the
    // two parents' child lists; and the first epoch's /controller_epoch with the root's child list.
    expect(count).toBe(10_000 * 23 + 2 + 10_000 * 12 + 2);
    for (let i = 0; i < 200; i++)
      log.apply(partitionChange(`topic-${String(i).padStart(15, '0')}`, 3, { leader: 2 }));
    expect(count).toBe(1);
    expect(tree.current().get('/brokers/topics/t199/partitions/3/state')!.stat.version).toBe(1);
  });
  it('a commit to one partition of a 5,000-topic group reads no znode of the group', () => {
    const log = new MetadataLog();
    const tree = new MetadataZnodeTree(log.sm);
    const batch = [];
    for (let t = 0; t < 5000; t++) for (let p = 0; p < 2; p++) batch.push(commit('big', `t${t}`, p, 1));
    log.apply(...batch);
    let seen: readonly ZnodeChange[] = [];
    tree.onChange((_, changes) => {
      seen = changes;
    });
    const gets: string[] = [];
    const proto = Object.getPrototypeOf(tree.current()) as { get(path: string): unknown };
    const get = proto.get;
    proto.get = function (this: unknown, path: string) {
      gets.push(path);
      return get.call(this, path);
    };
    try {
      log.apply(commit('big', 't4321', 1, 2), commit('big', 't17', 0, 3));
    } finally {
      proto.get = get;
    }
    expect(fmt(seen)).toEqual(['data /consumers/big/offsets/t4321/1', 'data /consumers/big/offsets/t17/0']);
    // Only the controller znodes (compared on every image), in both snapshots.
    expect(gets.filter((p) => p.startsWith('/consumers'))).toEqual([]);
    expect(tree.current().get('/consumers/big/offsets/t4321/1')!.stat.version).toBe(1);
    // A new partition is structural: its parent chain is compared.
    log.apply(commit('big', 't17', 7, 3));
    expect(fmt(seen)).toEqual([
      'created /consumers/big/offsets/t17/7',
      'children /consumers/big/offsets/t17',
    ]);
  });
});

/** Sort helper for expected lists mixing kinds: the tree's order within one zxid. */
function order(line: string): number {
  const [kind, path] = line.split(' ') as [string, string];
  const depth = path === '/' ? 0 : path.split('/').length - 1;
  if (kind === 'deleted') return -100 - depth;
  if (kind === 'created') return depth;
  if (kind === 'children') return 100 + depth;
  return 200;
}
