// getData throughput of the zk-view server through node-zookeeper-client. Measures, asserts nothing.
//
//   npx tsc -b && node packages/zk-view/test/helpers/bench-getdata.mjs [seconds] [clients] [inflight]
//   ZK_BENCH_TARGET=127.0.0.1:2181 node ...   # the same load against a real ZooKeeper
//
// The zk-view server runs in a child process (so client and server do not share one event loop);
// against a real ZooKeeper the script first writes the same znode there. Prints one JSON line per
// scenario: ops/s and latency percentiles (ms).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { ZooKeeperServer } from '../../dist/server/index.js';

const require = createRequire(import.meta.url);
const zookeeper = require('node-zookeeper-client');

const seconds = Number(process.argv[2] ?? 5);
const maxClients = Number(process.argv[3] ?? 4);
const maxInflight = Number(process.argv[4] ?? 64);
const PATH = '/brokers/topics/bench';
const data = Buffer.from(
  JSON.stringify({ version: 3, partitions: { 0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 1, 2] } }),
);

/** A static ZnodeTree: root, /brokers, /brokers/topics, /brokers/topics/bench. */
function staticTree() {
  const stat = (len, kids) => ({
    czxid: 1n,
    mzxid: 1n,
    ctime: 0n,
    mtime: 0n,
    version: 0,
    cversion: kids,
    aversion: 0,
    ephemeralOwner: 0n,
    dataLength: len,
    numChildren: kids,
    pzxid: 1n,
  });
  const nodes = new Map([
    ['/', { data: null, stat: stat(0, 1), children: ['brokers'] }],
    ['/brokers', { data: null, stat: stat(0, 1), children: ['topics'] }],
    ['/brokers/topics', { data: null, stat: stat(0, 1), children: ['bench'] }],
    [PATH, { data, stat: stat(data.length, 0), children: [] }],
  ]);
  const snapshot = {
    zxid: 1n,
    get: (p) => nodes.get(p),
    children: (p) => nodes.get(p)?.children,
  };
  return { current: () => snapshot, onChange: () => () => {} };
}

function connect(conn) {
  return new Promise((resolve, reject) => {
    const c = zookeeper.createClient(conn, { sessionTimeout: 30_000, retries: 0 });
    const t = setTimeout(() => reject(new Error(`cannot connect to ${conn}`)), 10_000);
    c.once('connected', () => {
      clearTimeout(t);
      resolve(c);
    });
    c.connect();
  });
}

async function run(conn, path, clients, inflight) {
  const zks = await Promise.all(Array.from({ length: clients }, () => connect(conn)));
  const latencies = [];
  let ops = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    zks.flatMap((zk) =>
      Array.from(
        { length: inflight },
        () =>
          new Promise((resolve) => {
            const loop = () => {
              if (performance.now() >= deadline) return resolve();
              const t0 = performance.now();
              zk.getData(path, (err) => {
                if (err) errors++;
                ops++;
                if (ops % 16 === 0) latencies.push(performance.now() - t0);
                loop();
              });
            };
            loop();
          }),
      ),
    ),
  );
  for (const zk of zks) zk.close();
  latencies.sort((a, b) => a - b);
  const pct = (p) => Number((latencies[Math.floor((latencies.length - 1) * p)] ?? 0).toFixed(3));
  return {
    clients,
    inflight,
    seconds,
    ops,
    errors,
    opsPerSec: Math.round(ops / seconds),
    p50: pct(0.5),
    p99: pct(0.99),
    max: pct(1),
  };
}

if (process.argv[2] === '--serve') {
  const server = new ZooKeeperServer({ tree: staticTree() });
  const addr = await server.listen(0, '127.0.0.1');
  process.send({ port: addr.port });
  process.on('disconnect', () => server.close().then(() => process.exit(0)));
} else {
  const target = process.env.ZK_BENCH_TARGET;
  let child;
  let conn = target;
  if (target === undefined) {
    child = fork(new URL(import.meta.url).pathname, ['--serve']);
    const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
    conn = `127.0.0.1:${port}`;
  } else {
    const zk = await connect(target);
    await new Promise((resolve, reject) =>
      zk.mkdirp(PATH, (err) =>
        err ? reject(err) : zk.setData(PATH, data, -1, (e) => (e ? reject(e) : resolve())),
      ),
    );
    zk.close();
  }
  const label = target === undefined ? 'zk-view' : `zookeeper ${target}`;
  for (const [clients, inflight] of [
    [1, 1],
    [1, maxInflight],
    [maxClients, maxInflight],
  ]) {
    const r = await run(conn, PATH, clients, inflight);
    console.log(JSON.stringify({ target: label, bytes: data.length, node: process.version, ...r }));
  }
  child?.disconnect();
}
