/**
 * The differential tests (see zookeeper-differential.test.ts) for a Kafka under a chroot: kbroker's
 * `--zookeeper-chroot /kafka` against a real ZooKeeper into which Kafka wrote with a
 * `zookeeper.connect` ending in `/kafka`. Clients with and without the chroot in their connect string.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Differential, zookeeperUnavailable } from './helpers/differential.js';

const unavailable = zookeeperUnavailable();

let d: Differential;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  d = await Differential.start({
    nodes: 1,
    chroot: '/kafka',
    setup: async (d) => {
      await d.client
        .admin()
        .createTopics({ topics: [{ topic: 'orders', numPartitions: 2, replicationFactor: 1 }] });
    },
  });
});

afterAll(async () => {
  await d?.stop();
});

describe.skipIf(unavailable !== undefined)('under a chroot, kbroker and a real ZooKeeper', () => {
  it('answer a client that names the chroot and one that does not the same', async () => {
    for (const chroot of ['', '/kafka']) {
      const p = await d.pair(`chroot ${chroot || 'none'}`, chroot);
      for (const path of [
        '/',
        '/kafka',
        '/kafka/brokers/topics',
        '/brokers/topics',
        '/zookeeper',
        '/kafka/zookeeper',
        '',
      ]) {
        await p.do((s) => s.getChildren(path));
        await p.do((s) => s.getData(path));
      }
      await p.do((s) => s.getChildren('/brokers/topics', true));
      await p.do((s) => s.getChildren('/kafka/brokers/topics', true));
      await p.do((s) => s.getAllChildrenNumber('/'));
      await p.do((s) => s.sync('/'));
      // Writes the view does not map (any znode of a real ZooKeeper, here outside Kafka's) are refused:
      // not compared (docs/zookeeper.md); the refusals of ZooKeeper's own preconditions are.
      await p.do((s) => s.create('/kafka/brokers/ids', null));
      await p.do((s) => s.setData('/kafka/nope', null, -1));
      await d.client
        .admin()
        .createTopics({ topics: [{ topic: `t${chroot.length}`, numPartitions: 1, replicationFactor: 1 }] });
      await d.settle((img) => img.topics.byName(`t${chroot.length}`) !== undefined, 'the topic');
      d.expectSame(p);
      await d.closePair(p);
    }
  });
});
