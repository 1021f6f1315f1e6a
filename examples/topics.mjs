// Admin: create, list, describe, grow and delete topics.
// Run: npm run build && node examples/topics.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 1 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-topics' });
const admin = kbroker.admin();
try {
  // Resolves once every new partition has a leader (waitForLeaders defaults to true).
  const created = await admin.createTopics({
    topics: [
      { topic: 'orders', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '86400000' }] },
      { topic: 'payments' }, // the cluster's num.partitions and default.replication.factor
    ],
  });
  console.log('created orders and payments:', created);
  assert.equal(created, true);

  // As in kafkajs: false (not an error) when a topic already exists.
  const again = await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
  console.log('orders again:', again);
  assert.equal(again, false);

  const names = (await admin.listTopics()).sort();
  console.log('topics:', names);
  assert.deepEqual(names, ['orders', 'payments']);

  const { topics } = await admin.describeTopics({ topics: ['orders'] });
  const orders = topics[0];
  console.log(`orders (${orders.topicId}):`);
  for (const p of orders.partitions) {
    console.log(`  partition ${p.partitionId}: leader ${p.leader}, replicas [${p.replicas}], isr [${p.isr}]`);
  }
  assert.equal(orders.partitions.length, 3);

  // Grow to 5 partitions; the next read on this client already sees them (read-your-writes).
  await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 5 }] });
  const grown = (await admin.describeTopics({ topics: ['orders'] })).topics[0];
  console.log('orders now has', grown.partitions.length, 'partitions');
  assert.equal(grown.partitions.length, 5);

  await admin.deleteTopics({ topics: ['payments'] });
  const left = await admin.listTopics();
  console.log('after deleting payments:', left);
  assert.deepEqual(left, ['orders']);
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
