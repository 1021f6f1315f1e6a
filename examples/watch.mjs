// Metadata watch: every change (topics, partitions, leaders, brokers, configs, offsets) exactly once and
// in order, as an async iterator or as events; closed, then resumed from its offset without a gap.
// Run: npm run build && node examples/watch.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 1 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-watch' });
const admin = kbroker.admin();

const describe = (e) =>
  `${e.offset} ${e.type} ${e.topic ?? e.groupId ?? e.resourceName ?? e.brokerId ?? ''}`.trimEnd();

/** Consumes `watch` until `last(event)` is true; resolves with the events. */
async function take(watch, last) {
  const events = [];
  for await (const event of watch) {
    events.push(event);
    if (last(event)) break; // leaving the loop closes the watch
  }
  return events;
}

try {
  // From now on (pass fromOffset to start after a known offset instead).
  const watch = kbroker.metadata().watch();
  watch.on('event', (e) => console.log('  event:', describe(e)));
  const firstPart = take(watch, (e) => e.type === 'offsets-committed');

  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] });
  await admin.alterConfigs({
    resources: [{ type: 'topic', name: 'orders', configEntries: [{ name: 'retention.ms', value: '60000' }] }],
  });
  await kbroker.offsets().commit('billing', [{ topic: 'orders', partition: 0, offset: 5 }]);
  const seen = await firstPart;
  assert.deepEqual(
    seen.map((e) => e.type),
    ['topic-created', 'config-changed', 'offsets-committed'],
  );

  // Remember where we were (persist it in real life), and miss a few changes.
  const resumeAfter = watch.offset;
  console.log('closed the watch after offset', resumeAfter);
  await admin.createTopics({ topics: [{ topic: 'payments', numPartitions: 1 }] });
  await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 4 }] });

  // Resume: the changes made while nobody watched come first, none twice, then new ones.
  const resumed = kbroker.metadata().watch({ fromOffset: resumeAfter });
  const rest = take(resumed, (e) => e.type === 'topic-deleted');
  await admin.deleteTopics({ topics: ['payments'] });
  const missed = await rest;
  for (const e of missed) console.log('  resumed:', describe(e));
  assert.deepEqual(
    missed.map((e) => e.type),
    ['topic-created', 'partitions-added', 'topic-deleted'],
  );
  assert.ok(missed.every((e) => e.offset > resumeAfter));
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
