#!/usr/bin/env node
// The ceiling of this machine for the ZooKeeper benchmarks' client: N sessions of the benchmark's client
// (ZkWireClient, one setData in flight each) against servers that answer every request at once and keep
// no state. Prints the request rate and the CPU of the client and of the servers. Needs `npx tsc -b`.
//
//   node scripts/perf/zk-echo-ceiling.mjs [--clients 256] [--servers 1] [--duration-ms 5000]
//   node scripts/perf/zk-echo-ceiling.mjs --serve PORT     (one answering server; used by the above)
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '256' },
    servers: { type: 'string', default: '1' },
    'duration-ms': { type: 'string', default: '5000' },
    serve: { type: 'string' },
  },
});

/** Answers the connect request, then every request with err 0 and an all-zero stat (a setData reply). */
function serve(port) {
  let zxid = 1n;
  net
    .createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => {});
      let buf = Buffer.alloc(0);
      let connected = false;
      sock.on('data', (chunk) => {
        buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
        while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
          const body = buf.subarray(4, 4 + buf.readInt32BE(0));
          buf = buf.subarray(4 + body.length);
          if (!connected) {
            connected = true;
            // protocolVersion, timeOut, sessionId, passwd (16 bytes), readOnly
            const reply = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16 + 1);
            reply.writeInt32BE(reply.length - 4, 0);
            reply.writeInt32BE(30_000, 8);
            reply.writeBigInt64BE(BigInt(sock.remotePort ?? 1), 12);
            reply.writeInt32BE(16, 20);
            sock.write(reply);
            continue;
          }
          // header: xid, zxid, err; then a 68-byte stat
          const reply = Buffer.alloc(4 + 16 + 68);
          reply.writeInt32BE(reply.length - 4, 0);
          reply.writeInt32BE(body.readInt32BE(0), 4);
          reply.writeBigInt64BE(++zxid, 8);
          sock.write(reply);
          if (body.readInt32BE(4) === -11) sock.end();
        }
      });
    })
    .listen(port, '127.0.0.1');
}

if (values.serve !== undefined) {
  serve(Number(values.serve));
} else {
  const dist = new URL('../../packages/', import.meta.url).pathname;
  const { ZkWireClient } = await import(`${dist}zk-view/dist/client/zk-client.js`);
  const clients = Number(values.clients);
  const servers = Number(values.servers);
  const durationMs = Number(values['duration-ms']);
  const basePort = 20_000 + Math.floor(Math.random() * 20_000);
  const procs = Array.from({ length: servers }, (_, i) =>
    spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', String(basePort + i)], {
      stdio: 'inherit',
    }),
  );
  const { threadCpuMs } = await import(`${dist}zk-view/dist/bench/cpu-profile.js`);
  const cpuMs = async (pid) => {
    const t = await threadCpuMs(pid);
    return t === undefined ? 0 : t.mainMs + t.otherMs;
  };
  try {
    const sessions = [];
    for (let i = 0; i < clients; i++) {
      for (let attempt = 0; ; attempt++) {
        try {
          sessions.push(await ZkWireClient.connect(`127.0.0.1:${basePort + (i % servers)}`));
          break;
        } catch (err) {
          if (attempt > 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    let ops = 0;
    let measuring = false;
    let stop = false;
    const loops = sessions.map(async (s, i) => {
      for (let k = 0; !stop; k++) {
        await s.setData(`/consumers/g/offsets/topic-${i}/${k % 10}`, Buffer.from(String(k)));
        if (measuring) ops++;
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    const c0 = await Promise.all(procs.map((p) => cpuMs(p.pid)));
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    measuring = true;
    await new Promise((r) => setTimeout(r, durationMs));
    measuring = false;
    const elapsedMs = performance.now() - t0;
    const c1 = await Promise.all(procs.map((p) => cpuMs(p.pid)));
    const own = process.cpuUsage(own0);
    stop = true;
    const rate = (ops / elapsedMs) * 1000;
    const clientCpu = (own.user + own.system) / 1000 / elapsedMs;
    process.stdout.write(
      `${clients} sessions -> ${servers} answering server(s): ${Math.round(rate)} requests/s; client ${Math.round(clientCpu * 100)}% of a core (${((clientCpu / rate) * 1e6).toFixed(1)} us per request), servers ${procs.map((_, i) => `${Math.round(((c1[i] - c0[i]) / elapsedMs) * 100)}%`).join(' ')}\n`,
    );
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
  } finally {
    for (const p of procs) p.kill();
  }
  process.exit(0);
}
