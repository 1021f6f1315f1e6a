/**
 * Socket-level fuzzing of a running kbroker node: every listener (quorum, client, ZooKeeper, HTTP) is
 * sent random bytes and mutated valid frames over many short connections, while the fuzzer checks at
 * the end that the node still serves a well-behaved client on each listener and measures its RSS.
 *
 * Deterministic for a seed (the node's scheduling is not). Used by `npm run fuzz:sockets` (long runs)
 * and by the CI-sized test in test/fuzz/sockets.test.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import { encodeFrame, FrameDecoder } from '@kbroker/raft';
import { freePorts } from '@kbroker/raft/testing';
import { JuteWriter, OpCode, writeConnectRequest, writeRequestHeader } from '@kbroker/zk-view';

export type ListenerName = 'quorum' | 'client' | 'zookeeper' | 'http';
export const FUZZ_LISTENERS: readonly ListenerName[] = ['quorum', 'client', 'zookeeper', 'http'];

// ---- deterministic randomness -----------------------------------------------------------------

/** xorshift32: small, fast and reproducible from a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(Math.floor(this.next() * 0x1_0000_0000), i);
    for (; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A size in [0, max), biased to small ones, sometimes large. */
  size(max: number): number {
    const r = this.next();
    return this.int(r < 0.7 ? Math.min(32, max) : r < 0.95 ? Math.min(1024, max) : max);
  }
  string(): string {
    const alphabets = ['abcdefghij', '/._-:@', '\u0000\u00ff\u{1F600}\uFFFD', '0123456789'];
    let s = '';
    const n = this.size(300);
    for (let i = 0; i < n; i++) s += this.pick([...this.pick(alphabets)]);
    return s;
  }
  /** A random msgpack-encodable value, nested up to `depth`. */
  value(depth = 3): unknown {
    switch (this.int(depth > 0 ? 10 : 7)) {
      case 0:
        return null;
      case 1:
        return this.next() < 0.5;
      case 2:
        return this.pick([0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 63), 1.5, Number.NaN, Number.POSITIVE_INFINITY]);
      case 3:
        return this.int(1_000_000) - 1000;
      case 4:
        return this.string();
      case 5:
        return this.bytes(this.size(2048));
      case 6:
        return undefined;
      case 7: {
        const a: unknown[] = [];
        for (let i = this.size(10); i > 0; i--) a.push(this.value(depth - 1));
        return a;
      }
      default: {
        const o: Record<string, unknown> = {};
        for (let i = this.size(12); i > 0; i--)
          o[this.next() < 0.5 ? this.string().slice(0, 12) : this.pick(KEYS)] = this.value(depth - 1);
        return o;
      }
    }
  }
  /** Bit flips, cuts, insertions and lying 4-byte lengths. */
  mutate(input: Buffer): Buffer {
    let b = Buffer.from(input);
    for (let n = 1 + this.int(4); n > 0 && b.length > 0; n--) {
      const at = this.int(b.length);
      switch (this.int(4)) {
        case 0:
          b[at]! ^= 1 << this.int(8);
          break;
        case 1:
          b = b.subarray(0, at);
          break;
        case 2:
          b = Buffer.concat([b.subarray(0, at), this.bytes(this.size(64)), b.subarray(at)]);
          break;
        default:
          if (at + 4 <= b.length)
            b.writeUInt32BE(this.pick([0, 1, 0x7fff_ffff, 0xffff_ffff, this.int(0x1_0000_0000)]), at);
      }
    }
    return b;
  }
}

/** Field names of the real protocols, so random maps sometimes look like real messages. */
const KEYS = [
  't',
  'v',
  'k',
  'm',
  'p',
  'id',
  'api',
  'body',
  'timeoutMs',
  'clusterId',
  'nodeId',
  'type',
  'from',
  'to',
  'term',
  'index',
  'entries',
  'commit',
  'topics',
  'topic',
  'path',
  'watch',
  'clientId',
  'protocolVersion',
  'snapshot',
];
const APIS = [
  'hello',
  'describeCluster',
  'listTopics',
  'describeTopics',
  'describeConfigs',
  'fetchOffsets',
  'listGroups',
  'metadataStatus',
  'createTopics',
  'deleteTopics',
  'createPartitions',
  'alterConfigs',
  'commitOffsets',
  'electLeaders',
  'watch',
  'unwatch',
  'znodeSession',
  'getZnodeData',
  'getZnodeChildren',
  'znodeExists',
  'addZnodeWatch',
  'removeZnodeWatch',
  'describeQuorum',
  'saslStart',
  'saslFinish',
  'registerBroker',
  'brokerHeartbeat',
  'zkSessionCreate',
  'alterPartition',
  'alterPartitions',
  'addVoter',
  'removeVoter',
  'nope',
];

// ---- inputs per listener ----------------------------------------------------------------------

export interface FuzzTarget {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly addresses: Readonly<Record<ListenerName, { host: string; port: number }>>;
}

function frame(rng: Rng, value: unknown): Buffer {
  try {
    const f = encodeFrame(value);
    return rng.next() < 0.25 ? rng.mutate(f) : f;
  } catch {
    return rng.bytes(rng.size(256));
  }
}

/** One connection's worth of chunks for `listener`; each chunk counts as one input. */
export function connectionInputs(rng: Rng, listener: ListenerName, target: FuzzTarget): Buffer[] {
  const n = 1 + rng.int(8);
  const out: Buffer[] = [];
  const flavour = rng.int(10);
  if (flavour === 0) {
    for (let i = 0; i < n; i++) out.push(rng.bytes(rng.size(8192)));
    return out;
  }
  if (flavour === 1 && listener !== 'http') {
    // A length header far over any limit, then a dribble.
    const h = Buffer.alloc(4);
    h.writeUInt32BE(rng.pick([0x7fff_ffff, 0xffff_ffff, 64 * 1024 * 1024, 1024 * 1024 + 1]));
    out.push(h, rng.bytes(rng.size(4096)));
    return out;
  }
  switch (listener) {
    case 'quorum': {
      const hello = {
        t: 'hello',
        v: rng.next() < 0.8 ? 1 : rng.value(1),
        clusterId: rng.next() < 0.7 ? target.clusterId : rng.string(),
        nodeId: rng.next() < 0.8 ? 100 + rng.int(1000) : rng.value(1),
        ...(rng.next() < 0.5 ? { address: rng.next() < 0.5 ? '127.0.0.1:1' : rng.string() } : {}),
      };
      out.push(frame(rng, rng.next() < 0.9 ? hello : rng.value()));
      for (let i = 1; i < n; i++) {
        // Payloads addressed to another node (the core ignores them) or of no valid shape.
        const payload =
          rng.next() < 0.5
            ? {
                k: rng.pick(['raft', 'snap', 'snap-abort', rng.string()]),
                m: {
                  type: rng.pick(['Append', 'Vote', 'PreVote', 'Heartbeat', 'Snapshot']),
                  from: 100,
                  to: 999,
                  term: rng.value(0),
                  index: rng.value(0),
                  entries: rng.value(2),
                },
                meta: rng.value(2),
                seq: rng.value(0),
                data: rng.value(0),
              }
            : rng.value();
        out.push(frame(rng, { t: rng.next() < 0.9 ? 'msg' : rng.string(), p: payload }));
      }
      return out;
    }
    case 'client': {
      if (rng.next() < 0.85) {
        out.push(
          frame(rng, {
            id: 1,
            api: 'hello',
            body: {
              clientId: 'fuzz',
              protocolVersion: rng.next() < 0.9 ? 1 : rng.value(0),
              ...(rng.next() < 0.5 ? { clusterId: rng.next() < 0.5 ? target.clusterId : rng.string() } : {}),
            },
          }),
        );
      }
      for (let i = out.length; i < n; i++) {
        out.push(
          frame(rng, {
            id: rng.next() < 0.9 ? 2 + i : rng.value(0),
            api: rng.next() < 0.9 ? rng.pick(APIS) : rng.value(0),
            timeoutMs: rng.next() < 0.8 ? 1 + rng.int(2000) : rng.value(0),
            body: rng.next() < 0.9 ? rng.value() : rng.value(0),
          }),
        );
      }
      return out;
    }
    case 'zookeeper': {
      const connect = new JuteWriter(64);
      connect.int(0);
      writeConnectRequest(connect, {
        protocolVersion: 0,
        lastZxidSeen: rng.next() < 0.9 ? 0n : BigInt(rng.int(1_000_000)),
        timeOut: rng.int(60_000),
        sessionId: rng.next() < 0.9 ? 0n : BigInt(rng.int(1_000_000)),
        passwd: rng.bytes(16),
      });
      const c = connect.frame();
      out.push(rng.next() < 0.2 ? rng.mutate(c) : c);
      if (rng.next() < 0.05)
        return [Buffer.from(rng.pick(['ruok', 'srvr', 'stat', 'mntr', 'dump', 'wchp', 'kill']))];
      const ops = Object.values(OpCode) as number[];
      for (let i = 1; i < n; i++) {
        const w = new JuteWriter(64);
        w.int(0);
        writeRequestHeader(w, { xid: i, type: rng.next() < 0.9 ? rng.pick(ops) : rng.int(256) - 128 });
        // A path-like start, then anything.
        if (rng.next() < 0.6)
          w.ustring(rng.pick(['/', '/brokers/ids', '/admin/delete_topics/x', '/config', rng.string()]));
        w.int(rng.int(4));
        const f = Buffer.concat([w.frame(), rng.bytes(rng.size(128))]);
        f.writeInt32BE(f.length - 4, 0);
        out.push(rng.next() < 0.3 ? rng.mutate(f) : f);
      }
      return out;
    }
    case 'http': {
      const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'GE T', rng.string().slice(0, 8)]);
      const path = rng.pick([
        '/metrics',
        '/health',
        '/',
        '/../../etc/passwd',
        `/${rng.string()}`,
        `/health?${rng.string()}`,
      ]);
      const headers: string[] = [`Host: fuzz`];
      for (let i = rng.int(6); i > 0; i--)
        headers.push(`${rng.string().slice(0, 20) || 'X'}: ${rng.string()}`);
      if (rng.next() < 0.1) headers.push(`X-Big: ${'a'.repeat(rng.int(200_000))}`);
      if (rng.next() < 0.2) headers.push(`Content-Length: ${rng.pick(['5', '-1', '99999999999', 'x'])}`);
      if (rng.next() < 0.1) headers.push('Transfer-Encoding: chunked');
      const req = Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
      out.push(rng.next() < 0.3 ? rng.mutate(req) : req);
      for (let i = 1; i < n && rng.next() < 0.3; i++) out.push(rng.bytes(rng.size(1024)));
      return out;
    }
  }
}

/** Sends one connection's inputs; resolves when the node closed it or it was ended. Never rejects. */
function runConnection(
  address: { host: string; port: number },
  chunks: readonly Buffer[],
  rng: Rng,
): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    // A node that neither answers nor closes is fine (it times idle clients out); we do not wait for it.
    const timer = setTimeout(finish, 2_000);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', () => undefined);
    socket.on('connect', () => {
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
      // Half the connections hang up at once; the rest let the node answer and close first.
      if (rng.next() < 0.5) socket.end();
      else setTimeout(() => socket.end(), 20);
    });
  });
}

export interface ListenerReport {
  readonly listener: ListenerName;
  readonly inputs: number;
  readonly connections: number;
  readonly seconds: number;
}

/** Hammers one listener until `inputs` chunks were sent, `concurrency` connections at a time. */
export async function fuzzListener(
  target: FuzzTarget,
  listener: ListenerName,
  inputs: number,
  options: { seed?: number; concurrency?: number } = {},
): Promise<ListenerReport> {
  const rng = new Rng((options.seed ?? 1) ^ (FUZZ_LISTENERS.indexOf(listener) * 0x1000193));
  const started = performance.now();
  let sent = 0;
  let connections = 0;
  const worker = async () => {
    while (sent < inputs) {
      const chunks = connectionInputs(rng, listener, target);
      sent += chunks.length;
      connections++;
      await runConnection(target.addresses[listener], chunks, rng);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return { listener, inputs: sent, connections, seconds: (performance.now() - started) / 1000 };
}

// ---- the node under test ----------------------------------------------------------------------

export interface FuzzNode extends FuzzTarget {
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** Resident set size of the node process, in bytes (Linux /proc). */
  rss(): Promise<number>;
  /** The node's stderr lines (pino JSON) kept so far. */
  readonly lines: string[];
  stop(): Promise<void>;
}

/** Starts a single-node `kbroker` process with all four listeners and waits until it serves. */
export async function startFuzzNode(
  bin: string,
  dataDir: string,
  clusterId: string,
  extraArgs: readonly string[] = [],
): Promise<FuzzNode> {
  const [client, quorum, zk, http] = await freePorts(4);
  const addr = (port: number) => ({ host: '127.0.0.1', port: port! });
  const child = spawn(
    process.execPath,
    [
      bin,
      'start',
      '--node-id',
      '1',
      '--controller-quorum',
      `1@127.0.0.1:${quorum}`,
      '--cluster-id',
      clusterId,
      '--listener',
      `127.0.0.1:${client}`,
      '--zookeeper-listener',
      `127.0.0.1:${zk}`,
      '--http-listener',
      `127.0.0.1:${http}`,
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const lines: string[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    const parts = (partial + c).split('\n');
    partial = parts.pop()!;
    for (const l of parts) if (lines.length < 100_000) lines.push(l);
  });
  const node: FuzzNode = {
    clusterId,
    nodeId: 1,
    addresses: { client: addr(client!), quorum: addr(quorum!), zookeeper: addr(zk!), http: addr(http!) },
    child,
    dataDir,
    lines,
    async rss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + 30_000;
  while ((await httpGet(node.addresses.http, '/health')).status !== 200) {
    if (child.exitCode !== null)
      throw new Error(`the node exited (${child.exitCode}):\n${lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline)
      throw new Error(`the node did not become healthy:\n${lines.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return node;
}

export function httpGet(
  address: { host: string; port: number },
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ ...address, path, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/** Asks the ZooKeeper listener `ruok`. */
export function zkRuok(address: { host: string; port: number }): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(address);
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      text += c;
    });
    s.on('connect', () => s.write('ruok'));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
    s.setTimeout(5_000, () => s.destroy());
  });
}

/** A proper quorum hello from an unknown node id: the answer's `t` ('welcome' when the listener is healthy). */
export function quorumHello(address: { host: string; port: number }, clusterId: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(address);
    const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
    const done = (t: string) => {
      s.destroy();
      resolve(t);
    };
    s.on('connect', () => s.write(encodeFrame({ t: 'hello', v: 1, clusterId, nodeId: 4242 })));
    s.on('data', (c: Buffer) => {
      try {
        const [first] = decoder.push(c) as { t?: unknown }[];
        if (first !== undefined) done(String(first.t));
      } catch (err) {
        done(`bad frame: ${(err as Error).message}`);
      }
    });
    s.on('error', () => done('error'));
    s.on('close', () => done('closed'));
    s.setTimeout(5_000, () => done('timeout'));
  });
}

export interface FuzzReport {
  readonly seed: number;
  readonly listeners: readonly ListenerReport[];
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly alive: boolean;
  /** What a well-behaved client saw afterwards, per listener. */
  readonly checks: Readonly<Record<ListenerName, string>>;
  /** Log lines at error level or above, and any crash trace. */
  readonly errors: readonly string[];
}

/** Runs every listener's fuzzing in turn against `node`, then the well-behaved checks. */
export async function fuzzNode(
  node: FuzzNode,
  inputsPerListener: number,
  options: {
    seed?: number;
    concurrency?: number;
    listeners?: readonly ListenerName[];
    wellBehaved: () => Promise<string>;
    onProgress?: (r: ListenerReport) => void;
  },
): Promise<FuzzReport> {
  const seed = options.seed ?? 1;
  // Warm up (JIT, pools) with well-behaved traffic before the baseline.
  await options.wellBehaved();
  const rssBeforeBytes = await node.rss();
  const reports: ListenerReport[] = [];
  for (const l of options.listeners ?? FUZZ_LISTENERS) {
    const r = await fuzzListener(node, l, inputsPerListener, { seed, concurrency: options.concurrency });
    reports.push(r);
    options.onProgress?.(r);
    if (node.child.exitCode !== null || node.child.signalCode !== null) break;
  }
  const alive = node.child.exitCode === null && node.child.signalCode === null;
  const checks = {
    client: alive ? await options.wellBehaved().catch((err: Error) => `failed: ${err.message}`) : 'dead',
    quorum: alive ? await quorumHello(node.addresses.quorum, node.clusterId) : 'dead',
    zookeeper: alive ? await zkRuok(node.addresses.zookeeper) : 'dead',
    http: alive ? String((await httpGet(node.addresses.http, '/health')).status) : 'dead',
  };
  const rssAfterBytes = alive ? await node.rss() : 0;
  // Lines at error level or above, and anything that is not a log record (a crash trace).
  const errors = node.lines.filter((l) => !l.startsWith('{') || /"level":(50|60)/.test(l)).slice(0, 50);
  return { seed, listeners: reports, rssBeforeBytes, rssAfterBytes, alive, checks, errors };
}
