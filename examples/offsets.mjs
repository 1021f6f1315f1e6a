// Committed consumer-group offsets: commit, fetch, list groups, delete a group.
// Run: npm run build && node examples/offsets.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 1 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-offsets' });
try {
  await kbroker.admin().createTopics({
    topics: [
      { topic: 'orders', numPartitions: 3 },
      { topic: 'payments', numPartitions: 1 },
    ],
  });
  const offsets = kbroker.offsets();

  // Offsets as numbers or kafkajs-style decimal strings, with optional metadata.
  await offsets.commit('billing', [
    { topic: 'orders', partition: 0, offset: 120, metadata: 'host-a' },
    { topic: 'orders', partition: 1, offset: '98' },
    { topic: 'payments', partition: 0, offset: 7 },
  ]);
  await offsets.commit('audit', [{ topic: 'orders', partition: 2, offset: 3 }]);

  const billingOrders = await offsets.fetch('billing', ['orders']);
  console.log('billing, orders only:', billingOrders);
  assert.deepEqual(billingOrders.map((o) => [o.partition, o.offset]).sort(), [
    [0, 120],
    [1, 98],
  ]);
  const all = await offsets.fetch('billing');
  console.log('billing, every topic:', all.map((o) => `${o.topic}-${o.partition}@${o.offset}`).join(', '));
  assert.equal(all.length, 3);

  // A later commit replaces the partition's offset.
  await offsets.commit('billing', [{ topic: 'orders', partition: 0, offset: 150 }]);
  const moved = (await offsets.fetch('billing', ['orders'])).find((o) => o.partition === 0);
  console.log('orders-0 after a second commit:', moved.offset);
  assert.equal(moved.offset, 150);

  const groups = await offsets.listGroups();
  console.log('groups:', groups);
  assert.deepEqual(groups.map((g) => g.groupId).sort(), ['audit', 'billing']);

  await offsets.deleteGroup('audit');
  const left = (await offsets.listGroups()).map((g) => g.groupId);
  console.log('after deleting audit:', left);
  assert.deepEqual(left, ['billing']);
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
