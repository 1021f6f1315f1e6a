/**
 * Differential tests of kbroker's ZooKeeper-compatible view against a real ZooKeeper 3.8 (issue 6):
 * the same Kafka metadata in both (kbroker's own; the Kafka layout written into ZooKeeper as
 * ZooKeeper-mode Kafka wrote it), the same operations through the same client, and every reply
 * (data by JSON value, children, stat, error code) and watch event, in order, compared.
 * See helpers/differential.ts for what is normalised and why.
 */
import type { MetadataImageView } from '@kbroker/metadata-log';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Differential, zookeeperUnavailable } from './helpers/differential.js';

const unavailable = zookeeperUnavailable();
if (unavailable !== undefined) console.warn(`skipping the differential tests: ${unavailable}`);

let d: Differential;
/** The two brokers topics live on (the victim holds no replica, so fencing it moves no partition). */
let a: number;
let b: number;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  d = await Differential.start({
    nodes: 3,
    setup: async (d) => {
      [a, b] = d.cluster.nodes.map((n) => n.nodeId).filter((id) => id !== d.victim) as [number, number];
      const admin = d.client.admin();
      await admin.createTopics({
        topics: [
          {
            topic: 'orders',
            replicaAssignment: [
              { partition: 0, replicas: [a, b] },
              { partition: 1, replicas: [b, a] },
              { partition: 2, replicas: [a, b] },
            ],
            configEntries: [{ name: 'retention.ms', value: '86400000' }],
          },
          { topic: 'payments', replicaAssignment: [{ partition: 0, replicas: [b, a] }] },
        ],
      });
      await admin.alterConfigs({
        resources: [
          { type: 'broker', name: String(a), configEntries: [{ name: 'log.cleaner.threads', value: '2' }] },
          { type: 'broker', name: '', configEntries: [{ name: 'num.io.threads', value: '16' }] },
        ],
      });
      await d.client.offsets().commit('g1', [
        { topic: 'orders', partition: 0, offset: 42 },
        { topic: 'orders', partition: 2, offset: 7 },
      ]);
      await waitImage(
        d,
        (img) => img.offsets.group('g1')?.size === 2 && img.topics.byName('payments') !== undefined,
      );
    },
  });
});

afterAll(async () => {
  await d?.stop();
});

async function waitImage(d: Differential, cond: Parameters<Differential['settle']>[0]): Promise<void> {
  const { waitFor } = await import('@kbroker/raft/testing');
  await waitFor(() => cond!(d.image()), 'the setup in the served image', 30_000);
}

/** Every kind of znode of the layout, and some that are not there. */
const PATHS = () => [
  '/',
  '/zookeeper',
  '/zookeeper/quota',
  '/zookeeper/config',
  '/cluster',
  '/cluster/id',
  '/controller',
  '/controller_epoch',
  '/feature',
  '/brokers',
  '/brokers/ids',
  `/brokers/ids/${a}`,
  '/brokers/seqid',
  '/brokers/topics',
  '/brokers/topics/orders',
  '/brokers/topics/orders/partitions',
  '/brokers/topics/orders/partitions/1',
  '/brokers/topics/orders/partitions/1/state',
  '/config',
  '/config/changes',
  '/config/topics',
  '/config/topics/orders',
  '/config/topics/payments',
  '/config/brokers',
  `/config/brokers/${a}`,
  '/config/brokers/<default>',
  '/config/clients',
  '/consumers',
  '/consumers/g1',
  '/consumers/g1/offsets',
  '/consumers/g1/offsets/orders',
  '/consumers/g1/offsets/orders/2',
  '/admin',
  '/admin/delete_topics',
  '/isr_change_notification',
  '/latest_producer_id_block',
  '/log_dir_event_notification',
  '/brokers/ids/99',
  '/brokers/topics/nope',
  '/brokers/topics/orders/partitions/9/state',
  '/consumers/nobody',
  '/nope',
];

describe.skipIf(unavailable !== undefined)('kbroker and a real ZooKeeper, same metadata, same client', () => {
  it('reads every kind of znode the same: data, children, stat, errors', async () => {
    const p = await d.pair('reads');
    for (const path of PATHS()) {
      await p.do((s) => s.getData(path));
      await p.do((s) => s.getChildren(path));
      await p.do((s) => s.exists(path));
    }
    for (const path of ['/', '/brokers', '/config', '/brokers/topics/orders', '/brokers/ids/99'])
      await p.do((s) => s.getAllChildrenNumber(path));
    await p.do((s) =>
      s.multiRead([
        { op: 'data', path: '/brokers/topics/orders' },
        { op: 'children', path: '/brokers/ids' },
        { op: 'data', path: '/nope' },
        { op: 'children', path: '/brokers/topics/orders/partitions' },
        { op: 'children', path: '/nope/deeper' },
      ]),
    );
    await p.do((s) => s.sync('/brokers'));
    await p.do((s) => s.sync('/'));
    d.expectSame(p);
    await d.closePair(p);
  });

  it('answers invalid paths with the codes ZooKeeper gives', async () => {
    const p = await d.pair('bad paths');
    const bad = [
      '',
      'brokers',
      '/brokers/',
      '//brokers',
      '/brokers//ids',
      '/brokers/./ids',
      '/brokers/../ids',
      '/.',
      '/brokers/ids/\u0001',
      '/x\u0000y',
    ];
    for (const path of bad) {
      await p.do((s) => s.getData(path));
      await p.do((s) => s.exists(path));
      await p.do((s) => s.getChildren(path));
      await p.do((s) => s.getAllChildrenNumber(path));
      await p.do((s) => s.sync(path));
      await p.do((s) => s.create(path, null));
      await p.do((s) => s.setData(path, null, -1));
      await p.do((s) => s.delete(path, -1));
      await p.do((s) => s.removeWatches(path, 3));
      await p.do((s) => s.addWatch(path, 0));
    }
    await p.do((s) => s.addWatch('/brokers', 7 as 0));
    for (const path of ['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config'])
      await p.do((s) => s.delete(path, -1));
    // The session still works.
    await p.do((s) => s.getChildren('/brokers'));
    d.expectSame(p);
    await d.closePair(p);
  });

  it('removeWatches and checkWatches: NOWATCHER without a watch, removal events with one', async () => {
    const p = await d.pair('remove watches');
    for (const t of [1, 2, 3, 4, 5]) await p.do((s) => s.removeWatches('/brokers/ids', t));
    await p.do((s) => s.getChildren('/brokers/ids', true));
    await p.do((s) => s.getData('/brokers/topics/orders', true));
    await p.do((s) => s.exists('/brokers/topics/later', true));
    await p.do((s) => s.addWatch('/brokers', 1));
    await p.do((s) => s.addWatch('/config', 0));
    for (const [path, t] of [
      ['/brokers/ids', 2],
      ['/brokers/ids', 1],
      ['/brokers/ids', 1],
      ['/brokers/topics/orders', 3],
      ['/brokers/topics/later', 2],
      ['/brokers', 4],
      ['/brokers', 5],
      ['/config', 3],
      ['/config', 4],
    ] as const) {
      await p.do((s) => s.checkWatches(path, t));
      await p.do((s) => s.removeWatches(path, t));
    }
    await p.barrier();
    d.expectSame(p);
    await d.closePair(p);
  });

  it('one-shot watches fire the same on topic creation and deletion, config changes and offset commits', async () => {
    const w = await d.pair('watcher');
    const writer = await d.pair('writer');
    const arm = () =>
      w.do(async (s) => {
        await s.getChildren('/brokers/topics', true);
        await s.exists('/brokers/topics/fresh', true);
        await s.exists('/config/topics/fresh', true);
        await s.getChildren('/config/topics', true);
        await s.exists('/brokers/topics/fresh/partitions/1/state', true);
        await s.getData('/config/topics/orders', true);
        await s.getData('/consumers/g1/offsets/orders/0', true);
        await s.exists('/consumers/g1/offsets/orders/1', true);
        await s.getChildren('/consumers/g1/offsets/orders', true);
      });
    await arm();
    // A topic created through the Kafka API (the admin path writes its config, then its assignment).
    await d.client.admin().createTopics({
      topics: [
        { topic: 'fresh', replicaAssignment: [0, 1].map((p) => ({ partition: p, replicas: [a, b] })) },
      ],
    });
    await d.settle((img) => img.topics.byName('fresh') !== undefined, 'topic fresh');
    await w.do((s) => s.getData('/brokers/topics/fresh/partitions/1/state'));
    // A config change and offset commits as Kafka's tools made them, with the versions each side gives.
    await writer.do(async (s) => {
      const cfg = await s.getData('/config/topics/orders');
      await s.setData(
        '/config/topics/orders',
        JSON.stringify({ version: 1, config: { 'retention.ms': '1000' } }),
        cfg.stat!.version,
      );
      await s.create('/consumers/g1/offsets/orders/1', '5');
      const off = await s.getData('/consumers/g1/offsets/orders/0');
      await s.setData('/consumers/g1/offsets/orders/0', '43', off.stat!.version);
    });
    await d.settle();
    await w.do((s) => s.getData('/config/topics/orders'));
    await w.do((s) => s.getData('/consumers/g1/offsets/orders/0'));
    await w.do((s) => s.getData('/consumers/g1/offsets/orders/1'));
    // A commit through the Kafka API.
    await w.do((s) => s.getData('/consumers/g1/offsets/orders/1', true));
    await d.client.offsets().commit('g1', [{ topic: 'orders', partition: 1, offset: 9 }]);
    await d.settle((img) => img.offsets.group('g1')?.get('orders', 1)?.offset === 9, 'the commit');
    await w.do((s) => s.getData('/consumers/g1/offsets/orders/1'));
    // Deletion through /admin/delete_topics (the controller deletes the znodes, then the marker).
    await arm();
    await w.do((s) => s.getData('/brokers/topics/fresh/partitions/0/state', true));
    await writer.do((s) => s.create('/admin/delete_topics/fresh', null));
    await d.settle((img) => img.topics.byName('fresh') === undefined, 'topic fresh deleted');
    await writer.do((s) => s.exists('/admin/delete_topics/fresh'));
    await w.do((s) => s.getChildren('/brokers/topics'));
    d.expectSame(w);
    d.expectSame(writer);
    await d.closePair(w);
    await d.closePair(writer);
  });

  it('admin writes ZooKeeper would refuse get its error codes; good ones its versions', async () => {
    const p = await d.pair('admin writes');
    const assignment = JSON.stringify({ version: 1, partitions: { 0: [a, b] } });
    await p.do(async (s) => {
      await s.create('/brokers/topics/orders', assignment);
      await s.create('/brokers/topics/nope/partitions', null);
      await s.create('/brokers/ids/1/child', null);
      await s.setData('/config/topics/orders', '{"version":1,"config":{}}', 99);
      await s.setData('/config/topics/nope', '{"version":1,"config":{}}', -1);
      await s.setData('/consumers/g1/offsets/orders/0', '1', 99);
      await s.setData('/consumers/g1/offsets/orders/7', '1', -1);
      await s.create('/consumers/g1/offsets/orders/0', '1');
      await s.create('/admin/delete_topics', null);
      await s.create('/brokers', null);
      await s.delete('/brokers/topics/orders', 99);
      await s.delete('/brokers/topics/orders', -1);
      await s.delete('/brokers/topics/nope', -1);
      await s.delete('/config/topics/nope', 0);
      await s.create('/admin/delete_topics/nope', null);
      await s.multi([
        { op: 'check', path: '/config/topics/orders', version: 99 },
        { op: 'setData', path: '/config/topics/orders', data: '{"version":1,"config":{}}', version: -1 },
      ]);
      await s.multi([
        { op: 'check', path: '/nope', version: -1 },
        { op: 'create', path: '/consumers/g1/offsets/orders/2', data: '1' },
      ]);
      // Good ones: the versions move as ZooKeeper's.
      const cfg = await s.getData('/config/topics/payments');
      await s.setData(
        '/config/topics/payments',
        '{"version":1,"config":{"cleanup.policy":"compact"}}',
        cfg.stat!.version,
      );
      await s.setData('/config/topics/payments', '{"version":1,"config":{}}', cfg.stat!.version);
      await s.setData('/config/topics/payments', '{"version":1,"config":{}}', -1);
      await s.multi([
        { op: 'check', path: '/brokers/topics/payments', version: 0 },
        { op: 'setData', path: '/consumers/g1/offsets/orders/2', data: '8', version: 0 },
      ]);
    });
    await d.settle();
    await p.do((s) => s.getData('/config/topics/payments'));
    await p.do((s) => s.getData('/consumers/g1/offsets/orders/2'));
    await p.do((s) => s.getChildren('/admin/delete_topics'));
    d.expectSame(p);
    await d.closePair(p);
  });

  it('persistent and persistent-recursive watches over /brokers see the same events in the same order', async () => {
    const p = await d.pair('persistent');
    await p.do((s) => s.addWatch('/brokers', 1));
    await p.do((s) => s.addWatch('/brokers/topics', 0));
    await p.do((s) => s.addWatch('/brokers/topics/wide/partitions', 0));
    await p.do((s) => s.addWatch('/brokers/topics/wide/partitions/0/state', 0));
    await d.client.admin().createTopics({
      topics: [
        { topic: 'wide', replicaAssignment: [0, 1, 2].map((q) => ({ partition: q, replicas: [b, a] })) },
      ],
    });
    await d.settle((img) => img.topics.byName('wide') !== undefined, 'topic wide');
    await p.do((s) => s.getChildren('/brokers/topics/wide/partitions'));
    await d.client.admin().deleteTopics({ topics: ['wide'] });
    await d.settle((img) => img.topics.byName('wide') === undefined, 'topic wide deleted');
    await p.do((s) => s.getChildren('/brokers/topics'));
    d.expectSame(p);
    await d.closePair(p);
  });

  it('child watches on /brokers/ids while a broker is fenced and returns; the leader of its partition moves', async () => {
    const p = await d.pair('fencing');
    const v = d.victim;
    // A partition led by the victim: fencing it moves the leader, a preferred election moves it back.
    await d.client
      .admin()
      .createTopics({ topics: [{ topic: 'onv', replicaAssignment: [{ partition: 0, replicas: [v, a] }] }] });
    await d.settle((img) => img.topics.byName('onv') !== undefined, 'topic onv');
    const state = '/brokers/topics/onv/partitions/0/state';
    const arm = () =>
      p.do(async (s) => {
        await s.getChildren('/brokers/ids', true);
        await s.exists(`/brokers/ids/${v}`, true);
        await s.getData(state, true);
      });
    await arm();
    await p.do((s) => s.getData(`/brokers/ids/${v}`, true));
    await p.do((s) => s.addWatch(`/brokers/ids/${v}`, 0));
    const onv = (img: MetadataImageView) => img.topics.byName('onv')?.partitions[0];
    await d.cluster.killNode(v);
    await d.settle(
      (img) => img.cluster.broker(v)?.fenced === true && onv(img)?.leader === a,
      `broker ${v} fenced, its partition led by ${a}`,
    );
    await p.do((s) => s.getChildren('/brokers/ids'));
    await p.do((s) => s.exists(`/brokers/ids/${v}`));
    await p.do((s) => s.getData(state));
    await arm();
    await d.cluster.restartNode(v);
    await d.settle(
      (img) => img.cluster.broker(v)?.fenced === false && onv(img)?.isr.includes(v) === true,
      `broker ${v} back in the ISR`,
    );
    await p.do((s) => s.getChildren('/brokers/ids'));
    await p.do((s) => s.getData(`/brokers/ids/${v}`));
    await p.do((s) => s.getData(state, true));
    const election = JSON.stringify({ version: 1, partitions: [{ topic: 'onv', partition: 0 }] });
    // From another session: kbroker answers once the controller acted on it, ZooKeeper before.
    const writer = await d.pair('election writer');
    await writer.do((s) => s.create('/admin/preferred_replica_election', election));
    await d.settle((img) => onv(img)?.leader === v, `${v} leading again`);
    await p.do((s) => s.getData(state));
    await writer.do((s) => s.exists('/admin/preferred_replica_election'));
    d.expectSame(p);
    d.expectSame(writer);
    await d.closePair(writer);
    await d.closePair(p);
  });

  it('a client chroot (/brokers seen as /): paths, events and created paths relative to it', async () => {
    const p = await d.pair('client chroot', '/brokers');
    await p.do((s) => s.getChildren('/', true));
    await p.do((s) => s.getData('/topics/orders'));
    await p.do((s) => s.exists('/topics/chrooted', true));
    await p.do((s) => s.sync('/topics'));
    await p.do((s) => s.create('/topics/orders', null));
    await p.do((s) =>
      s.multiRead([
        { op: 'children', path: '/ids' },
        { op: 'data', path: '/nope' },
      ]),
    );
    await d.client.admin().createTopics({
      topics: [{ topic: 'chrooted', replicaAssignment: [{ partition: 0, replicas: [a] }] }],
    });
    await d.settle((img) => img.topics.byName('chrooted') !== undefined, 'topic chrooted');
    d.expectSame(p);
    await d.closePair(p);
  });
});
