// Admin: describe and (incrementally) alter topic and broker configs.
// Run: npm run build && node examples/configs.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { ConfigResourceTypes, Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 1 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-configs' });
const admin = kbroker.admin();

async function topicConfigs(configNames) {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configNames }],
  });
  return Object.fromEntries(resources[0].configEntries.map((e) => [e.configName, e.configValue]));
}

try {
  await admin.createTopics({
    topics: [
      { topic: 'orders', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] },
    ],
  });
  console.log('orders configs at creation:', await topicConfigs());

  // Incremental: sets these entries and leaves the others as they are.
  await admin.alterConfigs({
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: 'orders',
        configEntries: [
          { name: 'retention.ms', value: '3600000' },
          { name: 'cleanup.policy', value: 'compact' },
        ],
      },
    ],
  });
  const altered = await topicConfigs();
  console.log('after alterConfigs:', altered);
  assert.deepEqual(altered, { 'cleanup.policy': 'compact', 'retention.ms': '3600000' });

  // `configNames` limits the answer; a null value deletes an entry (back to the default).
  console.log('only retention.ms:', await topicConfigs(['retention.ms']));
  await admin.alterConfigs({
    resources: [{ type: 'topic', name: 'orders', configEntries: [{ name: 'retention.ms', value: null }] }],
  });
  const after = await topicConfigs();
  console.log('after deleting retention.ms:', after);
  assert.deepEqual(after, { 'cleanup.policy': 'compact' });

  // validateOnly checks a change without applying it.
  await admin.alterConfigs({
    validateOnly: true,
    resources: [{ type: 'topic', name: 'orders', configEntries: [{ name: 'retention.ms', value: '1' }] }],
  });
  assert.deepEqual(await topicConfigs(), { 'cleanup.policy': 'compact' });
  console.log('validateOnly changed nothing');

  // Broker configs use the broker id as the name.
  await admin.alterConfigs({
    resources: [
      {
        type: ConfigResourceTypes.BROKER,
        name: '1',
        configEntries: [{ name: 'log.retention.ms', value: '7200000' }],
      },
    ],
  });
  const broker = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }],
  });
  console.log('broker 1 configs:', broker.resources[0].configEntries);
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
