/**
 * Socket-level fuzzing, CI-sized: a real single-node `kbroker` process gets random bytes and mutated
 * valid frames on its quorum, client, ZooKeeper and HTTP listeners over thousands of connections. It
 * must stay up, log nothing at error level, answer a well-behaved client on every listener afterwards
 * (a topic created and listed, a quorum handshake welcomed, `ruok` answered, /health 200), and its
 * resident memory must not grow without bound. `npm run fuzz:sockets -- --inputs 100000` is the long run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kbroker } from '@kbroker/client';
import { afterAll, describe, expect, it } from 'vitest';
import { type FuzzNode, fuzzNode, startFuzzNode } from '../../packages/broker/src/fuzz/socket-fuzz.js';
import { KBROKER_BIN } from '../e2e/helpers/processes.js';

const INPUTS = Number(process.env.FUZZ_SOCKET_INPUTS ?? 10_000);
/** Far above what the fuzzing needs (sessions, pools, JIT), far below a leak per input. */
const MAX_RSS_GROWTH = 160 * 1024 * 1024;

let node: FuzzNode | undefined;
let client: Kbroker | undefined;
let dir: string | undefined;

afterAll(async () => {
  await client?.disconnect().catch(() => {});
  await node?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('socket fuzzing of every listener', () => {
  it(`${INPUTS} inputs per listener: the node stays up, serves well-behaved clients, memory bounded`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'kbroker-sockfuzz-'));
    node = await startFuzzNode(KBROKER_BIN, join(dir, 'data'), 'fuzz-cluster');
    const c = new Kbroker({
      brokers: [`127.0.0.1:${node.addresses.client.port}`],
      clusterId: node.clusterId,
      retry: { retries: 3 },
    });
    client = c;
    let round = 0;
    const report = await fuzzNode(node, INPUTS, {
      seed: Number(process.env.FUZZ_SEED ?? 7),
      wellBehaved: async () => {
        const topic = `well-behaved-${round++}`;
        await c.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
        return (await c.admin().listTopics()).includes(topic) ? 'ok' : `topic ${topic} missing`;
      },
    });
    expect(report.listeners.map((l) => l.listener)).toEqual(['quorum', 'client', 'zookeeper', 'http']);
    for (const l of report.listeners) expect(l.inputs, l.listener).toBeGreaterThanOrEqual(INPUTS);
    expect(report.alive).toBe(true);
    expect(report.checks).toEqual({ client: 'ok', quorum: 'welcome', zookeeper: 'imok', http: '200' });
    expect(report.errors).toEqual([]);
    expect(report.rssAfterBytes - report.rssBeforeBytes).toBeLessThan(MAX_RSS_GROWTH);
  });
});
