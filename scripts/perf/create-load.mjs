#!/usr/bin/env node
// Topic creation as ZooKeeper-era admin tools made it (create /brokers/topics/<t> with an assignment,
// then an exists watch until the last partition's state znode shows) against 3 kbroker processes alone,
// with the CPU of every process: the quick loop for working on topic creation. Needs `npx tsc -b`.
//
//   node scripts/perf/create-load.mjs [--clients 16] [--topics 10000] [--duration-ms 6000]
//
// KBROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the nodes.
import { cpuMs, loadOptions, out, sleep } from './lib.mjs';

const dist = new URL('../../packages/', import.meta.url).pathname;
const { startKbroker, kbrokerAdmin } = await import(`${dist}zk-view/dist/bench/kbroker-procs.js`);
const { createTopics } = await import(`${dist}zk-view/dist/bench/common.js`);
const { liveChildren } = await import(`${dist}zk-view/dist/bench/zookeeper-server.js`);
const { ZkWireClient } = await import(`${dist}zk-view/dist/client/zk-client.js`);

const values = loadOptions({ clients: 16, topics: 10000, durationMs: 6000, minTopics: 0 });
const { clients, topics, durationMs } = values;
const assignment = (k) => {
  const parts = {};
  for (let p = 0; p < 10; p++) parts[String(p)] = [0, 1, 2].map((r) => ((k + p + r) % 3) + 1);
  return Buffer.from(JSON.stringify({ version: 1, partitions: parts }));
};

const d = await startKbroker(3, 120_000);
try {
  if (topics > 0) {
    const admin = await kbrokerAdmin(d.brokers);
    await createTopics(admin, { topics, partitions: 10 }, () => {});
    await admin.disconnect();
  }
  const sessions = [];
  for (let i = 0; i < clients; i++)
    sessions.push(await ZkWireClient.connect(d.servers[i % 3], { sessionTimeoutMs: 30_000 }));
  const pids = [...liveChildren].map((ch) => ch.pid);
  let ops = 0;
  let measuring = false;
  let stop = false;
  const latencies = [];
  const loops = sessions.map(async (s, c) => {
    const waiters = new Map();
    s.onWatch((e) => {
      if (e.type === 1) {
        waiters.get(e.path)?.();
        waiters.delete(e.path);
      }
    });
    for (let seq = 0; !stop; seq++) {
      const t0 = performance.now();
      const t = `load-${c}-${seq}`;
      await s.create(`/brokers/topics/${t}`, assignment(c + seq));
      const last = `/brokers/topics/${t}/partitions/9/state`;
      const created = new Promise((r) => waiters.set(last, r));
      if ((await s.exists(last, { watch: true })) === undefined) await created;
      else waiters.delete(last);
      if (measuring) {
        ops++;
        latencies.push(performance.now() - t0);
      }
    }
  });
  await sleep(1500);
  const cpu0 = await Promise.all(pids.map(cpuMs));
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await sleep(durationMs);
  measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu1 = await Promise.all(pids.map(cpuMs));
  const own = process.cpuUsage(own0);
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  const rate = (ops / elapsedMs) * 1000;
  const nodeCpu = pids.map((_, i) => ((cpu1[i] - cpu0[i]) / elapsedMs) * 100);
  out(
    `${clients} clients: ${rate.toFixed(1)} topics/s, p50 ${latencies[latencies.length >> 1]?.toFixed(2)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]?.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms`,
  );
  out(
    `CPU % of a core: nodes ${nodeCpu.map(Math.round).join(' ')}, client ${Math.round(((own.user + own.system) / 1000 / elapsedMs) * 100)}`,
  );
  await Promise.all(sessions.map((s) => s.close()));
} finally {
  await d.stop();
}
