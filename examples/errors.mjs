// Errors and retries: every failure is a typed KbrokerError with a stable `code`, Kafka's numeric
// `errorCode` and a `retriable` flag; the client retries retriable failures when repeating is safe.
// Run: npm run build && node examples/errors.mjs
import assert from 'node:assert/strict';
import { startCluster } from '@kbroker/broker';
import {
  ConnectionError,
  InvalidPartitionsError,
  InvalidReplicationFactorError,
  InvalidTopicError,
  Kbroker,
  KbrokerError,
  UnknownTopicOrPartitionError,
} from '@kbroker/client';

const cluster = await startCluster({ nodes: 1 });
const kbroker = new Kbroker({
  brokers: cluster.brokers,
  clientId: 'example-errors',
  requestTimeoutMs: 10_000,
  // Exponential backoff with jitter: 100 ms, 200 ms, 400 ms... at most 5 retries (the defaults).
  retry: { retries: 5, initialRetryTimeMs: 100, maxRetryTimeMs: 5_000, multiplier: 2, factor: 0.2 },
});
const admin = kbroker.admin();

async function expectError(what, action, type) {
  try {
    await action();
  } catch (err) {
    assert.ok(err instanceof type && err instanceof KbrokerError, `${what}: got ${err}`);
    console.log(
      `${what}: ${err.name} code=${err.code} errorCode=${err.errorCode} retriable=${err.retriable}`,
    );
    console.log(`  ${err.message}`);
    return err;
  }
  throw new Error(`${what}: no error`);
}

try {
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] });
  await expectError(
    'a bad topic name',
    () => admin.createTopics({ topics: [{ topic: 'no spaces allowed' }] }),
    InvalidTopicError,
  );
  await expectError(
    'more replicas than brokers',
    () => admin.createTopics({ topics: [{ topic: 'wide', replicationFactor: 3 }] }),
    InvalidReplicationFactorError,
  );
  await expectError(
    'an unknown topic',
    () => admin.describeTopics({ topics: ['missing'] }),
    UnknownTopicOrPartitionError,
  );
  await expectError(
    'shrinking a topic',
    () => admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 1 }] }),
    InvalidPartitionsError,
  );

  // Nothing listens there: the connection fails, is retried (it is retriable and nothing was sent),
  // and the last error is thrown once the retries are used up.
  const unreachable = new Kbroker({
    brokers: ['127.0.0.1:1'],
    connectionTimeoutMs: 500,
    retry: { retries: 2, initialRetryTimeMs: 20 },
  });
  const started = Date.now();
  const err = await expectError(
    'an unreachable broker',
    () => unreachable.admin().listTopics(),
    ConnectionError,
  );
  console.log(`  gave up after ${Date.now() - started} ms (3 attempts)`);
  assert.equal(err.retriable, true);
  await unreachable.disconnect();
} finally {
  await kbroker.disconnect();
  await cluster.stop();
}
