/**
 * Differential tests of kbroker's ZooKeeper-compatible view against a real ZooKeeper 3.8 (issue 6):
 * the same Kafka metadata in both (kbroker's own; the Kafka layout written into ZooKeeper as
 * ZooKeeper-mode Kafka wrote it), the same operations through the same client, and every reply
 * (data by JSON value, children, stat, error code) and watch event, in order, compared.
 * See helpers/differential.ts for what is normalised and why.
 */
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
});
