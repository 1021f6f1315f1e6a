// Disconnect: `kbroker.disconnect()` closes every watch, admin and connection of the client, after
// which it holds no socket or timer (the process can exit by itself). The client can be used again.
// Run: npm run build && node examples/disconnect.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import { Kbroker } from '@kbroker/client';

const cluster = await startCluster({ nodes: 1 });
const kbroker = new Kbroker({ brokers: cluster.brokers, clientId: 'example-disconnect' });
try {
  // Clients connect lazily; connect() does it now and learns the cluster.
  await kbroker.connect();
  const admin = kbroker.admin();
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] });
  const watch = kbroker.metadata().watch();
  const iterating = (async () => {
    let n = 0;
    for await (const _event of watch) n++;
    return n; // the loop ends when the watch is closed
  })();
  await kbroker.offsets().commit('g', [{ topic: 'orders', partition: 0, offset: 1 }]);

  // An admin may be disconnected on its own; the client's disconnect closes everything it created.
  await kbroker.disconnect();
  const events = await iterating;
  console.log(`disconnected: the watch ended after ${events} event(s)`);

  // Reusable: the next call reconnects.
  console.log('used again after disconnect:', await admin.listTopics());
  await kbroker.disconnect();
} finally {
  await cluster.stop();
}
// No socket or timer of the client (or of the cluster) is left to keep the process alive.
const left = process.getActiveResourcesInfo().filter((r) => /TCP|Timeout|Immediate/.test(r));
console.log('sockets and timers left:', left);
assert.deepEqual(left, []);
