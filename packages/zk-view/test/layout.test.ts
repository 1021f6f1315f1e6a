import { describe, expect, it } from 'vitest';
import { buildTree, isZnodeName, syntheticSessionId, walk } from '../src/layout.js';
import type { ZnodeTreeSnapshot } from '../src/types.js';
import {
  brokerConfig,
  commit,
  fence,
  MetadataLog,
  partition,
  partitionChange,
  registerBroker,
  sampleCluster,
  T,
  topicConfig,
} from './fixtures/metadata.js';

const text = (s: ZnodeTreeSnapshot, path: string): string | null => {
  const z = s.get(path);
  if (z === undefined) throw new Error(`no znode ${path}`);
  return z.data === null ? null : new TextDecoder().decode(z.data);
};

/** The active controller's id (Raft's leader): it took office at term 1's first entry. */
const CONTROLLER = 3000;

describe('layout: paths', () => {
  it('has exactly the znodes Kafka 3.x laid out (plus ZooKeeper’s own)', () => {
    const { log } = sampleCluster();
    const s = buildTree(log.image, { controllerId: CONTROLLER });
    expect([...walk(s)].sort()).toEqual(
      [
        '/',
        '/zookeeper',
        '/zookeeper/config',
        '/zookeeper/quota',
        '/admin',
        '/admin/delete_topics',
        '/brokers',
        '/brokers/ids',
        '/brokers/ids/1',
        '/brokers/ids/2',
        '/brokers/ids/3',
        '/brokers/seqid',
        '/brokers/topics',
        '/brokers/topics/orders',
        '/brokers/topics/orders/partitions',
        '/brokers/topics/orders/partitions/0',
        '/brokers/topics/orders/partitions/0/state',
        '/brokers/topics/orders/partitions/1',
        '/brokers/topics/orders/partitions/1/state',
        '/brokers/topics/orders/partitions/2',
        '/brokers/topics/orders/partitions/2/state',
        '/brokers/topics/payments',
        '/brokers/topics/payments/partitions',
        '/brokers/topics/payments/partitions/0',
        '/brokers/topics/payments/partitions/0/state',
        '/cluster',
        '/cluster/id',
        '/config',
        '/config/brokers',
        '/config/brokers/1',
        '/config/brokers/<default>',
        '/config/changes',
        '/config/clients',
        '/config/ips',
        '/config/topics',
        '/config/topics/orders',
        '/config/topics/payments',
        '/config/users',
        '/consumers',
        '/consumers/g1',
        '/consumers/g1/offsets',
        '/consumers/g1/offsets/orders',
        '/consumers/g1/offsets/orders/0',
        '/consumers/g1/offsets/orders/2',
        '/controller',
        '/controller_epoch',
        '/feature',
        '/isr_change_notification',
        '/latest_producer_id_block',
        '/log_dir_event_notification',
      ].sort(),
    );
  });

  it('an empty image still has the pre-created paths, and nothing that needs a cluster', () => {
    const s = buildTree(new MetadataLog().image);
    expect(s.zxid).toBe(0n);
    expect(s.children('/')?.slice().sort()).toEqual(
      [
        'admin',
        'brokers',
        'cluster',
        'config',
        'consumers',
        'isr_change_notification',
        'latest_producer_id_block',
        'log_dir_event_notification',
        'zookeeper',
      ].sort(),
    );
    expect(s.get('/cluster/id')).toBeUndefined();
    expect(s.get('/controller_epoch')).toBeUndefined();
    expect(s.children('/cluster')).toEqual([]);
  });

  it('answers undefined for what does not exist or is not a path', () => {
    const { log } = sampleCluster();
    const s = buildTree(log.image);
    for (const p of [
      '',
      'brokers',
      '/brokers/',
      '//brokers',
      '/brokers/./ids',
      '/brokers/ids/4', // registered but fenced
      '/brokers/ids/01',
      '/brokers/ids/x',
      '/brokers/topics/nope',
      '/brokers/topics/orders/partitions/3',
      '/brokers/topics/orders/partitions/00',
      '/brokers/topics/orders/partitions/0/state/x',
      '/brokers/topics/orders/x',
      '/config/brokers/2',
      '/config/brokers/',
      '/consumers/g2',
      '/consumers/g1/offsets/payments',
      '/consumers/g1/offsets/orders/1',
      '/controller', // no controller given
      '/zookeeper/x',
      '/nope',
    ]) {
      expect(s.get(p), p).toBeUndefined();
      expect(s.children(p), p).toBeUndefined();
    }
  });
});

describe('layout: data, byte for byte', () => {
  const { log, epochs } = sampleCluster();
  const s = buildTree(log.image, { controllerId: CONTROLLER });

  it('/cluster/id, /controller, /controller_epoch, /feature', () => {
    expect(text(s, '/cluster/id')).toBe('{"version":"1","id":"fMCL8kv1SWm87L_Md-I2hg"}');
    expect(text(s, '/controller')).toBe(
      '{"version":2,"brokerid":3000,"timestamp":"1700000000010","kraftControllerEpoch":1}',
    );
    expect(text(s, '/controller_epoch')).toBe('1');
    expect(text(s, '/feature')).toBe(
      '{"features":{"metadata.version":{"max_version_level":7}},"version":2,"status":1}',
    );
  });

  it('/brokers/ids/<id> v5', () => {
    expect(text(s, '/brokers/ids/2')).toBe(
      '{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},' +
        '"endpoints":["PLAINTEXT://b2.local:9092","SSL://b2.local:9093"],"rack":"r1","jmx_port":-1,' +
        `"port":9092,"host":"b2.local","timestamp":"${log.image.cluster.broker(2)!.registeredTimeMs}",` +
        '"features":{},"version":5}',
    );
    expect(JSON.parse(text(s, '/brokers/ids/1')!)).not.toHaveProperty('rack');
    expect(epochs[2]).toBe(Number(s.get('/brokers/ids/2')!.stat.czxid));
  });

  it('host/port from the first PLAINTEXT endpoint, null/-1 without one; IPv6 bracketed', () => {
    const l = new MetadataLog();
    const epoch = l.apply({
      ...(registerBroker(7) as Extract<ReturnType<typeof registerBroker>, { type: 3 }>),
      endpoints: [
        { name: 'INTERNAL', host: '::1', port: 9094, securityProtocol: 'SSL' },
        { name: 'CLIENT', host: 'h', port: 9095, securityProtocol: 'SASL_SSL' },
      ],
    });
    l.apply(fence(7, epoch, -1));
    const json = JSON.parse(text(buildTree(l.image), '/brokers/ids/7')!);
    expect(json).toMatchObject({
      host: null,
      port: -1,
      endpoints: ['INTERNAL://[::1]:9094', 'CLIENT://h:9095'],
      listener_security_protocol_map: { INTERNAL: 'SSL', CLIENT: 'SASL_SSL' },
    });
  });

  it('/brokers/topics/<t> v3, partitions and state', () => {
    expect(text(s, '/brokers/topics/orders')).toBe(
      `{"version":3,"topic_id":"${T.orders}","partitions":{"0":[1,2,3],"1":[2,3,1],"2":[3,1,2]},` +
        '"adding_replicas":{},"removing_replicas":{}}',
    );
    expect(text(s, '/brokers/topics/orders/partitions')).toBeNull();
    expect(text(s, '/brokers/topics/orders/partitions/1')).toBeNull();
    expect(text(s, '/brokers/topics/orders/partitions/1/state')).toBe(
      '{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,3,1]}',
    );
  });

  it('leader_recovery_state only while RECOVERING; leader -1 without a leader', () => {
    const l = sampleCluster().log;
    l.apply(partitionChange(T.payments, 0, { leader: -1, isr: [] }));
    expect(text(buildTree(l.image), '/brokers/topics/payments/partitions/0/state')).toBe(
      '{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":1,"isr":[]}',
    );
    l.apply(partitionChange(T.payments, 0, { leader: 1, isr: [1], leaderRecoveryState: 1 }));
    expect(text(buildTree(l.image), '/brokers/topics/payments/partitions/0/state')).toBe(
      '{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":2,"isr":[1],"leader_recovery_state":1}',
    );
  });

  it('/config entities, {} for a topic without overrides', () => {
    expect(text(s, '/config/topics/orders')).toBe('{"version":1,"config":{"retention.ms":"86400000"}}');
    expect(text(s, '/config/topics/payments')).toBe('{"version":1,"config":{}}');
    expect(text(s, '/config/brokers/1')).toBe('{"version":1,"config":{"log.cleaner.threads":"2"}}');
    expect(text(s, '/config/brokers/<default>')).toBe('{"version":1,"config":{"num.io.threads":"16"}}');
  });

  it('persistent scaffolding has null data; ZooKeeper’s own znodes empty data', () => {
    for (const p of [
      '/consumers',
      '/brokers/ids',
      '/brokers/seqid',
      '/config/changes',
      '/admin/delete_topics',
    ])
      expect(text(s, p), p).toBeNull();
    for (const p of ['/', '/zookeeper', '/zookeeper/config', '/zookeeper/quota'])
      expect(text(s, p), p).toBe('');
  });

  it('/consumers/<g>/offsets/<t>/<p> is the decimal offset', () => {
    expect(text(s, '/consumers/g1/offsets/orders/0')).toBe('42');
    expect(text(s, '/consumers/g1')).toBeNull();
    expect(s.children('/consumers/g1')).toEqual(['offsets']);
  });

  it('leaves out names that cannot be znodes', () => {
    expect(isZnodeName('a/b')).toBe(false);
    expect(isZnodeName('..')).toBe(false);
    expect(isZnodeName('')).toBe(false);
    expect(isZnodeName('ok.name-1')).toBe(true);
    const l = new MetadataLog();
    l.apply(commit('team/a', 'orders', 0, 1), commit('g', 'bad\u0001topic', 0, 1), commit('g', 't', 0, 1));
    const t = buildTree(l.image);
    expect(t.children('/consumers')).toEqual(['g']);
    expect(t.children('/consumers/g/offsets')).toEqual(['t']);
  });
});

describe('layout: stats', () => {
  it('every znode: numChildren = children, dataLength = bytes, czxid <= mzxid <= zxid, pzxid <= zxid', () => {
    const { log } = sampleCluster();
    const s = buildTree(log.image, { controllerId: CONTROLLER });
    for (const p of walk(s)) {
      const z = s.get(p)!;
      expect(z.stat.numChildren, p).toBe(s.children(p)!.length);
      expect(z.stat.dataLength, p).toBe(z.data?.length ?? 0);
      expect(z.stat.czxid <= z.stat.mzxid, p).toBe(true);
      expect(z.stat.mzxid <= s.zxid, p).toBe(true);
      expect(z.stat.pzxid <= s.zxid && z.stat.pzxid >= z.stat.czxid, p).toBe(true);
      expect(z.stat.ctime <= z.stat.mtime, p).toBe(true);
      // ZooKeeper sets /zookeeper/config's read-only ACL at version -1 (seen on a real 3.8).
      expect(z.stat.aversion, p).toBe(p === '/zookeeper/config' ? -1 : 0);
      expect(z.stat.ephemeralOwner !== 0n, p).toBe(p.startsWith('/brokers/ids/'));
    }
  });

  it('ZooKeeper’s built-in znodes look as on ZooKeeper 3.8', () => {
    const s = buildTree(new MetadataLog().image);
    expect(s.get('/zookeeper')!.stat).toMatchObject({ cversion: -2, numChildren: 2, czxid: 0n, ctime: 0n });
    // The root's one built-in child counts -1; each Kafka path created under it +1.
    expect(s.get('/')!.stat).toMatchObject({ cversion: -1 + 8, numChildren: 9 });
  });

  it('brokers: ephemeral, owner = synthetic session of the registration, czxid = broker epoch, version 1', () => {
    const { log, epochs } = sampleCluster();
    const s = buildTree(log.image);
    const stat = s.get('/brokers/ids/3')!.stat;
    expect(stat).toMatchObject({
      czxid: BigInt(epochs[3]!),
      mzxid: BigInt(epochs[3]!),
      version: 1,
      ephemeralOwner: syntheticSessionId(3, epochs[3]!),
      ctime: BigInt(log.image.cluster.broker(3)!.registeredTimeMs),
    });
    expect(syntheticSessionId(3, epochs[3]!)).not.toBe(syntheticSessionId(2, epochs[3]!));
    expect(syntheticSessionId(3, epochs[3]!)).not.toBe(syntheticSessionId(3, epochs[3]! + 1));
    const custom = buildTree(log.image, { sessionIdOf: (id, epoch) => BigInt(id * 1000 + epoch) });
    expect(custom.get('/brokers/ids/3')!.stat.ephemeralOwner).toBe(BigInt(3000 + epochs[3]!));
  });

  it('partition state: version = partition epoch, mzxid = last change, controller_epoch = epoch of that write', () => {
    const { log, orders } = sampleCluster();
    log.newTerm();
    log.apply(partitionChange(T.orders, 1, { isr: [2, 3] }));
    const c2 = log.apply(partitionChange(T.orders, 1, { leader: 3 }));
    const s = buildTree(log.image);
    const state = s.get('/brokers/topics/orders/partitions/1/state')!;
    expect(state.stat).toMatchObject({ czxid: BigInt(orders), mzxid: BigInt(c2), version: 2 });
    expect(log.image.topics.byName('orders')!.partitions[1]!.partitionEpoch).toBe(2);
    expect(JSON.parse(text(s, '/brokers/topics/orders/partitions/1/state')!)).toEqual({
      controller_epoch: 2,
      leader: 3,
      version: 1,
      leader_epoch: 1,
      isr: [2, 3],
    });
    // Untouched partitions keep their stamps, and the epoch they were written in.
    expect(s.get('/brokers/topics/orders/partitions/0/state')!.stat.version).toBe(0);
    expect(JSON.parse(text(s, '/brokers/topics/orders/partitions/0/state')!).controller_epoch).toBe(1);
  });

  it('topic: version = assignment version (partitions added, replicas moved), children of /partitions', () => {
    const { log, orders } = sampleCluster();
    const added = log.apply(partition(T.orders, 3, [1, 2, 3]));
    const moved = log.apply(partitionChange(T.orders, 0, { replicas: [1, 2, 4], isr: [1, 2] }));
    const s = buildTree(log.image);
    expect(s.get('/brokers/topics/orders')!.stat).toMatchObject({
      czxid: BigInt(orders),
      mzxid: BigInt(moved),
      version: 2,
    });
    expect(s.get('/brokers/topics/orders/partitions')!.stat).toMatchObject({
      numChildren: 4,
      cversion: 4,
      pzxid: BigInt(added),
    });
    expect(s.get('/brokers/topics/orders/partitions/3/state')!.stat.czxid).toBe(BigInt(added));
  });

  it('config: version = the resource’s config version; a topic’s overrides added later count one more', () => {
    const { log, orders, payments } = sampleCluster();
    const o1 = log.apply(topicConfig('orders', 'cleanup.policy', 'compact'));
    const p1 = log.apply(topicConfig('payments', 'retention.ms', '1000'));
    const b1 = log.apply(brokerConfig('1', 'log.cleaner.threads', '4'));
    const s = buildTree(log.image);
    expect(s.get('/config/topics/orders')!.stat).toMatchObject({
      czxid: BigInt(orders),
      mzxid: BigInt(o1),
      version: 1,
    });
    expect(s.get('/config/topics/payments')!.stat).toMatchObject({
      czxid: BigInt(payments),
      mzxid: BigInt(p1),
      version: 1,
    });
    expect(s.get('/config/brokers/1')!.stat).toMatchObject({ mzxid: BigInt(b1), version: 1 });
    expect(text(s, '/config/topics/orders')).toBe(
      '{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"86400000"}}',
    );
  });

  it('offsets: version = commits - 1, czxid = first commit, mzxid = last', () => {
    const { log, commits } = sampleCluster();
    const again = log.apply(commit('g1', 'orders', 0, 50));
    const s = buildTree(log.image);
    expect(s.get('/consumers/g1/offsets/orders/0')!.stat).toMatchObject({
      czxid: BigInt(commits),
      mzxid: BigInt(again),
      version: 1,
      mtime: BigInt(1_700_000_500_050),
    });
    expect(text(s, '/consumers/g1/offsets/orders/0')).toBe('50');
  });

  it('snapshot zxid = image offset; a snapshot never changes', () => {
    const { log } = sampleCluster();
    const s = buildTree(log.image);
    expect(s.zxid).toBe(BigInt(log.image.provenance.offset));
    const before = [...walk(s)].map((p) => [p, s.get(p)]);
    log.apply(partitionChange(T.orders, 0, { leader: 2 }));
    expect([...walk(s)].map((p) => [p, s.get(p)])).toEqual(before);
  });

  it('a snapshot of 10,000 topics x 10 partitions shares what each image part determines', () => {
    const log = new MetadataLog();
    const batches = [];
    for (let t = 0; t < 10_000; t++) {
      const id = `topic-${String(t).padStart(15, '0')}`;
      batches.push([
        { type: 6 as const, version: 0 as const, name: `t${t}`, topicId: id },
        ...Array.from({ length: 10 }, (_, p) => partition(id, p, [1, 2, 3])),
      ]);
    }
    log.applyAll(...batches);
    const s = buildTree(log.image);
    expect(s.children('/brokers/topics')!.length).toBe(10_000);
    expect(s.get('/brokers/topics')!.stat.numChildren).toBe(10_000);
    // A partition's znodes are built once per partition and frozen (their encoding may be kept),
    // and survive a change elsewhere: the next image shares the partition.
    const state = '/brokers/topics/t7/partitions/3/state';
    const z = s.get(state)!;
    expect(Object.isFrozen(z.stat)).toBe(true);
    expect(s.get(state)).toBe(z);
    log.apply(partitionChange('topic-000000000000008', 3, { leader: 2 }));
    const next = buildTree(log.image);
    expect(next.get(state)).toBe(z);
    expect(next.get('/brokers/topics/t8/partitions/3/state')).not.toBe(
      s.get('/brokers/topics/t8/partitions/3/state'),
    );
    expect(next.get('/brokers/topics/t8/partitions/3/state')!.stat.version).toBe(1);
    // The child list is computed once per topics image, not per snapshot or per call.
    expect(buildTree(log.image).children('/brokers/topics')).toBe(next.children('/brokers/topics'));
    // Topics with as many partitions share one `partitions` list (and its encoding).
    expect(next.children('/brokers/topics/t1/partitions')).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    expect(next.children('/brokers/topics/t1/partitions')).toBe(s.children('/brokers/topics/t2/partitions'));
    // A partition change does not rebuild the topic list (nor /config/topics', the same list).
    expect(next.children('/brokers/topics')).toBe(s.children('/brokers/topics'));
    expect(next.children('/config/topics')).toBe(s.children('/brokers/topics'));
  });
});
