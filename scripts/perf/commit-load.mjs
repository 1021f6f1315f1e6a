#!/usr/bin/env node
// Offset commits against 3 kbroker processes alone (no ZooKeeper), with the CPU of every process from
// /proc: the quick loop for working on the write path. Needs `npx tsc -b` first.
//
//   node scripts/perf/commit-load.mjs [--clients 256] [--topics 1000] [--duration-ms 8000] [--count]
//
// --count preloads count-calls.mjs into the nodes and prints, per node, the commitOffsets calls, Raft
// entries, persists and applies made during the measured window.
import { readdirSync, readFileSync } from 'node:fs';
import { cpuMs, loadOptions, out, sleep } from './lib.mjs';

const dist = new URL('../../packages/', import.meta.url).pathname;
const { startKbroker, kbrokerAdmin } = await import(`${dist}zk-view/dist/bench/kbroker-procs.js`);
const { createTopics, topicName } = await import(`${dist}zk-view/dist/bench/common.js`);
const { liveChildren } = await import(`${dist}zk-view/dist/bench/zookeeper-server.js`);
const { pool } = await import(`${dist}zk-view/dist/bench/zk-client.js`);
const { ZkWireClient } = await import(`${dist}zk-view/dist/client/zk-client.js`);

const values = loadOptions(
  { clients: 256, topics: 1000, durationMs: 8000, minTopics: 1000 },
  { count: { type: 'boolean', default: false } },
);
const { clients, topics, durationMs } = values;

/** Voluntary and involuntary context switches of a process, all threads. */
function switches(pid) {
  let vol = 0;
  let invol = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      vol += Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(st)[1]);
      invol += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)[1]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return [vol, invol];
}

const counter = new URL('./count-calls.mjs', import.meta.url).pathname;
const d = await startKbroker(3, 120_000, undefined, values.count ? { nodeArgs: ['--import', counter] } : {});
try {
  const admin = await kbrokerAdmin(d.brokers);
  await createTopics(admin, { topics, partitions: 10 }, () => {});
  await admin.disconnect();
  const paths = [];
  for (let i = 0; paths.length < 10_000; i++)
    for (let p = 0; p < 10; p++) paths.push(`/consumers/g/offsets/${topicName(i)}/${p}`);
  const setup = await Promise.all(
    d.servers.map((s) => ZkWireClient.connect(s, { sessionTimeoutMs: 30_000 })),
  );
  let k = 0;
  await pool(paths, 96, async (path) => {
    const s = setup[k++ % setup.length];
    for (;;) {
      try {
        await s.create(path, Buffer.from('0'));
        return;
      } catch (err) {
        if (err.code === 'NODEEXISTS') return;
        await sleep(100);
      }
    }
  });
  await Promise.all(setup.map((s) => s.close()));
  const sessions = [];
  for (let i = 0; i < clients; i++)
    sessions.push(await ZkWireClient.connect(d.servers[i % 3], { sessionTimeoutMs: 30_000 }));
  const pids = [...liveChildren].map((ch) => ch.pid);
  const shares = Array.from({ length: clients }, (_, i) => paths.filter((_p, j) => j % clients === i));
  let ops = 0;
  let measuring = false;
  let stop = false;
  let value = 0;
  const latencies = [];
  /** Writes slower than 200 ms: when they started (epoch ms, to set beside the nodes' logs) and how long. */
  const slow = [];
  const loops = sessions.map(async (s, i) => {
    for (let seq = 0; !stop; seq++) {
      const t0 = performance.now();
      await s.setData(shares[i][seq % shares[i].length], Buffer.from(String(++value)));
      if (measuring) {
        ops++;
        const ms = performance.now() - t0;
        latencies.push(ms);
        if (ms > 200) slow.push([Math.round(performance.timeOrigin + t0), Math.round(ms)]);
      }
    }
  });
  await sleep(1500);
  if (values.count) for (const p of pids) process.kill(p, 'SIGUSR2');
  const cpu0 = await Promise.all(pids.map(cpuMs));
  const sw0 = pids.map(switches);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await sleep(durationMs);
  measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu1 = await Promise.all(pids.map(cpuMs));
  const sw1 = pids.map(switches);
  const own = process.cpuUsage(own0);
  if (values.count) for (const p of pids) process.kill(p, 'SIGUSR2');
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  if (slow.length > 0) {
    const at = new Map();
    for (const [t, ms] of slow)
      at.set(Math.floor(t / 100) * 100, Math.max(at.get(Math.floor(t / 100) * 100) ?? 0, ms));
    out(
      `writes over 200 ms: ${slow.length}, started at (epoch ms, 100 ms buckets, slowest): ${[...at].map(([t, ms]) => `${t}:${ms}`).join(' ')}`,
    );
  }
  const rate = (ops / elapsedMs) * 1000;
  const nodeCpu = pids.map((_, i) => ((cpu1[i] - cpu0[i]) / elapsedMs) * 100);
  const sum = nodeCpu.reduce((a, b) => a + b, 0);
  out(
    `${clients} clients: ${Math.round(rate)} commits/s, p50 ${latencies[latencies.length >> 1]?.toFixed(2)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]?.toFixed(2)} ms, p999 ${latencies[Math.floor(latencies.length * 0.999)]?.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms`,
  );
  out(
    `CPU % of a core: nodes ${nodeCpu.map(Math.round).join(' ')}, client ${Math.round(((own.user + own.system) / 1000 / elapsedMs) * 100)}; nodes ${((sum / 100 / rate) * 1e6).toFixed(1)} us per commit summed`,
  );
  out(
    `context switches per s (voluntary/involuntary): ${pids.map((_, i) => `${Math.round(((sw1[i][0] - sw0[i][0]) / elapsedMs) * 1000)}/${Math.round(((sw1[i][1] - sw0[i][1]) / elapsedMs) * 1000)}`).join('  ')}`,
  );
  if (values.count) {
    await sleep(500);
    for (const p of pids) {
      try {
        out(`node pid ${p}: ${readFileSync(`/tmp/kbroker-count-${p}.json`, 'utf8')}`);
      } catch {
        out(`node pid ${p}: no counts written`);
      }
    }
  }
  await Promise.all(sessions.map((s) => s.close()));
} finally {
  await d.stop();
}
