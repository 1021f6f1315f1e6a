import net from 'node:net';
import { encodeFrame, FrameDecoder } from '@kbroker/wire';
import { type Logger, pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpTransport, type TcpTransportOptions } from '../src/transport/tcp-transport.js';

const CLUSTER = 'test-cluster';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger that keeps its lines for assertions. */
function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

/** Polls `condition` until true; fails after `timeoutMs`. */
async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const open: TcpTransport<unknown>[] = [];

async function startNode<T>(
  nodeId: number,
  extra: Partial<TcpTransportOptions> = {},
): Promise<{ transport: TcpTransport<T>; received: Array<{ from: number; payload: T }>; address: string }> {
  const transport = new TcpTransport<T>({
    nodeId,
    clusterId: CLUSTER,
    listen: { host: '127.0.0.1', port: 0 },
    reconnectBackoffMs: { initial: 10, max: 100 },
    ...extra,
  });
  open.push(transport as TcpTransport<unknown>);
  const received: Array<{ from: number; payload: T }> = [];
  transport.onReceive((from, payload) => received.push({ from, payload }));
  await transport.start();
  return { transport, received, address: `127.0.0.1:${transport.address()!.port}` };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

/** A raw client socket, resolved once connected, that reports when the server closes it. */
async function rawClient(
  port: number,
): Promise<{ socket: net.Socket; closed: () => boolean; frames: unknown[] }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let isClosed = false;
  const frames: unknown[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk) => decoder.feed(chunk, (v) => frames.push(v)));
  socket.on('error', () => {});
  socket.on('close', () => {
    isClosed = true;
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed: () => isClosed, frames };
}

describe('TcpTransport', () => {
  it('delivers 10,000 payloads in order', async () => {
    const a = await startNode<{ seq: number; data: Uint8Array }>(1);
    const b = await startNode<{ seq: number; data: Uint8Array }>(2);
    a.transport.setPeerAddress(2, b.address);
    const count = 10_000;
    for (let seq = 0; seq < count; seq++)
      a.transport.send(2, { seq, data: new Uint8Array(100).fill(seq & 0xff) });
    await waitFor(() => b.received.length === count, 20_000, 'all payloads');
    b.received.forEach((r, i) => {
      expect(r.from).toBe(1);
      expect(r.payload.seq).toBe(i);
      expect(r.payload.data[0]).toBe(i & 0xff);
    });
    const stats = a.transport.stats().get(2)!;
    expect(stats).toMatchObject({ sent: count, dropped: 0, queuedBytes: 0, connected: true });
    expect(b.transport.stats().get(1)?.received).toBe(count);
  });

  it('sends both ways between three nodes, each dialing its peers', async () => {
    const nodes = [await startNode<string>(1), await startNode<string>(2), await startNode<string>(3)];
    nodes.forEach((n, i) => {
      nodes.forEach((m, j) => {
        if (i !== j) n.transport.setPeerAddress(j + 1, m.address);
      });
    });
    nodes.forEach((n, i) => {
      nodes.forEach((_, j) => {
        if (i !== j) n.transport.send(j + 1, `${i + 1}->${j + 1}`);
      });
    });
    await waitFor(() => nodes.every((n) => n.received.length === 2), 10_000, 'all-to-all');
    nodes.forEach((n, j) => {
      const got = n.received.map((r) => r.payload).sort();
      const want = [1, 2, 3].filter((i) => i !== j + 1).map((i) => `${i}->${j + 1}`);
      expect(got).toEqual(want);
      for (const r of n.received) expect(r.payload.startsWith(`${r.from}->`)).toBe(true);
    });
  });

  it('reconnects after the receiver restarts on the same port', async () => {
    const a = await startNode<number>(1);
    const b = await startNode<number>(2);
    const port = b.transport.address()!.port;
    a.transport.setPeerAddress(2, b.address);
    a.transport.send(2, 1);
    await waitFor(() => b.received.length === 1, 10_000, 'first payload');
    await b.transport.close();
    await waitFor(() => a.transport.stats().get(2)?.connected === false, 10_000, 'disconnect noticed');

    const b2 = await startNode<number>(2, { listen: { host: '127.0.0.1', port } });
    // Payloads sent while B was down queue (or are lost with the dead connection); keep sending
    // until one arrives.
    let next = 2;
    await waitFor(
      () => {
        a.transport.send(2, next++);
        return b2.received.length > 0;
      },
      10_000,
      'delivery after restart',
    );
    const got = b2.received.map((r) => r.payload);
    // What arrives is in send order.
    expect([...got].sort((x, y) => x - y)).toEqual(got);
    expect(a.transport.stats().get(2)?.connected).toBe(true);
  });

  it('drops what was queued before a failed attempt, and delivers what is sent after, in order', async () => {
    const b = await startNode<number>(2);
    const port = b.transport.address()!.port;
    await b.transport.close();
    const log = captureLogger();
    const a = await startNode<number>(1, { logger: log.logger });
    a.transport.setPeerAddress(2, `127.0.0.1:${port}`);
    for (let i = 0; i < 100; i++) a.transport.send(2, i);
    await waitFor(() => log.lines.some((l) => l.msg === 'connect failed'), 10_000, 'a failed attempt');
    // Raft resends from its own state, so stale traffic to a down peer is not kept.
    expect(a.transport.stats().get(2)).toMatchObject({ queuedPayloads: 0, dropped: 100, connected: false });
    const b2 = await startNode<number>(2, { listen: { host: '127.0.0.1', port } });
    let next = 100;
    await waitFor(
      () => {
        a.transport.send(2, next++);
        return b2.received.length >= 10;
      },
      10_000,
      'payloads sent after the peer is back',
    );
    const got = b2.received.map((r) => r.payload);
    expect(got.every((p) => p >= 100)).toBe(true);
    expect(got).toEqual([...got].sort((x, y) => x - y));
  });

  it('drops payloads beyond maxQueuedBytesPerPeer and counts them', async () => {
    const a = await startNode<string>(1, { maxQueuedBytesPerPeer: 10_000 });
    // No address: nothing can be sent, everything queues.
    for (let i = 0; i < 100; i++) a.transport.send(2, 'x'.repeat(1000));
    const stats = a.transport.stats().get(2)!;
    expect(stats.queuedBytes).toBeLessThanOrEqual(10_000);
    expect(stats.queuedPayloads).toBeGreaterThan(0);
    expect(stats.dropped).toBe(100 - stats.queuedPayloads);
  });

  it('makes room in a full queue by dropping payloads older than the last failed attempt', async () => {
    const b = await startNode<string>(2);
    const port = b.transport.address()!.port;
    await b.transport.close();
    const log = captureLogger();
    const frameBytes = 4 + 16 + 100; // header + { t: 'msg', p: ... } + a 100-char payload, roughly
    const a = await startNode<string>(1, { logger: log.logger, maxQueuedBytesPerPeer: 20 * frameBytes });
    a.transport.setPeerAddress(2, `127.0.0.1:${port}`);
    const payload = (tag: string, i: number) => `${tag}${String(i).padStart(3, '0')}`.padEnd(100, '.');
    for (let i = 0; i < 30; i++) a.transport.send(2, payload('old', i));
    const afterOld = a.transport.stats().get(2)!;
    expect(afterOld.dropped).toBeGreaterThan(0); // the queue filled up within one cycle: newest dropped
    await waitFor(() => log.lines.some((l) => l.msg === 'connect failed'), 10_000, 'a failed attempt');
    for (let i = 0; i < 5; i++) a.transport.send(2, payload('new', i));
    const afterNew = a.transport.stats().get(2)!;
    // Stale payloads went first, so every new one was queued.
    expect(afterNew.dropped).toBeGreaterThan(afterOld.dropped);
    expect(afterNew.queuedBytes).toBeLessThanOrEqual(20 * frameBytes);

    const b2 = await startNode<string>(2, { listen: { host: '127.0.0.1', port } });
    await waitFor(() => b2.received.some((r) => r.payload.startsWith('new004')), 10_000, 'flushed');
    const got = b2.received.map((r) => r.payload.slice(0, 6));
    expect(got.slice(-5)).toEqual(['new000', 'new001', 'new002', 'new003', 'new004']);
    // What survived of the old ones is a suffix of them, still in order.
    const old = got.slice(0, -5);
    expect(old).toEqual([...old].sort());
    expect(old.every((p) => p.startsWith('old'))).toBe(true);
  });

  it('rejects a cluster-id mismatch loudly and delivers nothing', async () => {
    const logA = captureLogger();
    const logB = captureLogger();
    const a = await startNode<string>(1, { clusterId: 'cluster-a', logger: logA.logger });
    const b = await startNode<string>(2, { clusterId: 'cluster-b', logger: logB.logger });
    a.transport.setPeerAddress(2, b.address);
    await waitFor(
      () => {
        // Keep traffic flowing, as Raft does: a refused peer is dialled again for new payloads.
        a.transport.send(2, 'should not arrive');
        return logA.lines.filter((l) => l.level === 50 && l.code === 'INVALID_CLUSTER_ID').length >= 2;
      },
      10_000,
      'repeated rejection logged at error',
    );
    const warn = logB.lines.find((l) => l.level === 40 && l.code === 'INVALID_CLUSTER_ID');
    expect(warn).toMatchObject({ clusterId: 'cluster-b', peerClusterId: 'cluster-a', peerNodeId: 1 });
    const error = logA.lines.find((l) => l.level === 50);
    expect(error).toMatchObject({ peer: 2, clusterId: 'cluster-a', code: 'INVALID_CLUSTER_ID' });
    expect(b.received).toEqual([]);
    expect(a.transport.stats().get(2)?.connected).toBe(false);
  });

  it('rejects a peer using our own node id', async () => {
    const logA = captureLogger();
    const a = await startNode<string>(1, { logger: logA.logger });
    const b = await startNode<string>(1);
    b.transport.setPeerAddress(7, a.address);
    b.transport.send(7, 'x');
    const raw = await rawClient(a.transport.address()!.port);
    raw.socket.write(encodeFrame({ t: 'hello', v: 1, clusterId: CLUSTER, nodeId: 1 }));
    await waitFor(() => raw.closed(), 10_000, 'raw socket closed');
    expect(raw.frames).toMatchObject([{ t: 'reject', code: 'DUPLICATE_NODE_ID' }]);
    await waitFor(() => logA.lines.some((l) => l.code === 'DUPLICATE_NODE_ID'), 10_000, 'logged');
    expect(a.received).toEqual([]);
  });

  it('rejects an unsupported protocol version', async () => {
    const a = await startNode<string>(1);
    const raw = await rawClient(a.transport.address()!.port);
    raw.socket.write(encodeFrame({ t: 'hello', v: 99, clusterId: CLUSTER, nodeId: 5 }));
    await waitFor(() => raw.closed(), 10_000, 'raw socket closed');
    expect(raw.frames).toMatchObject([{ t: 'reject', code: 'UNSUPPORTED_VERSION' }]);
  });

  it('refuses to deliver to a node answering at another node id address', async () => {
    const logA = captureLogger();
    const a = await startNode<string>(1, { logger: logA.logger });
    const b = await startNode<string>(2);
    a.transport.setPeerAddress(3, b.address); // wrong: that is node 2
    a.transport.send(3, 'misrouted');
    await waitFor(() => logA.lines.some((l) => l.level === 50 && l.peerNodeId === 2), 10_000, 'logged');
    expect(b.received).toEqual([]);
  });

  it('disconnects garbage and oversized frames while a good peer keeps delivering', async () => {
    const logB = captureLogger();
    const a = await startNode<number>(1);
    const b = await startNode<number>(2, { logger: logB.logger, maxFrameBytes: 1024 * 1024 });
    const port = b.transport.address()!.port;
    a.transport.setPeerAddress(2, b.address);
    let next = 0;
    const sendSome = () => {
      for (let i = 0; i < 10; i++) a.transport.send(2, next++);
    };
    sendSome();
    await waitFor(() => b.received.length === 10, 10_000, 'good peer delivering');

    // Garbage before any handshake.
    const garbage = await rawClient(port);
    garbage.socket.write(Buffer.from([0, 0, 0, 2, 0x92, 0x01]));
    // A header claiming 2 GiB before the handshake.
    const huge = await rawClient(port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(2 ** 31, 0);
    huge.socket.write(header);
    // A handshaken connection that then sends an oversized frame header.
    const trusted = await rawClient(port);
    trusted.socket.write(encodeFrame({ t: 'hello', v: 1, clusterId: CLUSTER, nodeId: 9 }));
    await waitFor(() => trusted.frames.length === 1, 10_000, 'welcome');
    expect(trusted.frames[0]).toMatchObject({ t: 'welcome', v: 1, nodeId: 2, clusterId: CLUSTER });
    const tooBig = Buffer.alloc(4);
    tooBig.writeUInt32BE(1024 * 1024 + 1, 0);
    trusted.socket.write(tooBig);
    // A handshaken connection sending a well-formed but unexpected frame.
    const confused = await rawClient(port);
    confused.socket.write(
      Buffer.concat([
        encodeFrame({ t: 'hello', v: 1, clusterId: CLUSTER, nodeId: 10 }),
        encodeFrame({ t: 'nonsense' }),
      ]),
    );

    await waitFor(
      () => garbage.closed() && huge.closed() && trusted.closed() && confused.closed(),
      10_000,
      'bad sockets closed',
    );
    sendSome();
    await waitFor(() => b.received.length === 20, 10_000, 'good peer still delivering');
    expect(b.received.map((r) => r.payload)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(b.received.every((r) => r.from === 1)).toBe(true);

    const drops = logB.lines.filter((l) => l.msg === 'dropping inbound connection');
    expect(drops).toHaveLength(4);
    expect(drops.every((l) => l.level === 40)).toBe(true);
    expect(drops.map((l) => String(l.reason))).toEqual(
      expect.arrayContaining([
        expect.stringContaining('MALFORMED_FRAME'),
        expect.stringContaining('FRAME_TOO_LARGE'),
        expect.stringContaining('unexpected frame type'),
      ]),
    );
  });

  it('closes a connection that never sends a hello', async () => {
    const a = await startNode<number>(1, { handshakeTimeoutMs: 50 });
    const raw = await rawClient(a.transport.address()!.port);
    await waitFor(() => raw.closed(), 10_000, 'idle socket closed');
  });

  it('learns a peer address from its hello and can send back', async () => {
    const leader = await startNode<string>(1);
    // The observer listens and advertises its bound address; the leader is never told it.
    const observer = await startNode<string>(3);
    observer.transport.setPeerAddress(1, leader.address);
    observer.transport.send(1, 'hello leader');
    await waitFor(() => leader.received.length === 1, 10_000, 'observer -> leader');
    expect(leader.received[0]).toEqual({ from: 3, payload: 'hello leader' });
    expect(leader.transport.stats().get(3)?.address).toBe(observer.address);

    leader.transport.send(3, 'hello observer');
    await waitFor(() => observer.received.length === 1, 10_000, 'leader -> observer');
    expect(observer.received[0]).toEqual({ from: 1, payload: 'hello observer' });
  });

  it('does not let a learned address override an explicit one', async () => {
    const a = await startNode<string>(1);
    const b = await startNode<string>(2, { advertisedAddress: '127.0.0.1:1' });
    a.transport.setPeerAddress(2, b.address);
    b.transport.setPeerAddress(1, a.address);
    b.transport.send(1, 'from b');
    await waitFor(() => a.received.length === 1, 10_000, 'b -> a');
    expect(a.transport.stats().get(2)?.address).toBe(b.address);
    a.transport.send(2, 'from a');
    await waitFor(() => b.received.length === 1, 10_000, 'a -> b');
  });

  it('close() releases every handle and timer', async () => {
    const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    // Track timers exactly (global resource counts include the test runner's own timers).
    const pending = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const handle = realSetTimeout(
        (...a: unknown[]) => {
          pending.delete(handle);
          fn(...a);
        },
        ms,
        ...args,
      );
      pending.add(handle);
      return handle;
    }) as typeof setTimeout;
    globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
      pending.delete(handle);
      realClearTimeout(handle);
    }) as typeof clearTimeout;
    try {
      // Earlier tests' sockets may still be releasing their handles.
      await waitFor(() => tcpHandles() === 0, 5_000, 'earlier handles released');
      const log = captureLogger();
      // A long backoff, so a reconnect timer is certainly pending at close().
      const a = await startNode<number>(1, { logger: log.logger, reconnectBackoffMs: { initial: 60_000 } });
      const b = await startNode<number>(2);
      a.transport.setPeerAddress(2, b.address);
      b.transport.setPeerAddress(1, a.address);
      // A peer that refuses connections.
      a.transport.setPeerAddress(3, '127.0.0.1:1');
      a.transport.send(3, 0);
      a.transport.send(2, 1);
      b.transport.send(1, 2);
      await waitFor(() => a.received.length === 1 && b.received.length === 1, 10_000, 'traffic');
      await waitFor(
        () => log.lines.some((l) => l.msg === 'connect failed' && l.peer === 3),
        10_000,
        'backoff',
      );
      expect(tcpHandles()).toBeGreaterThan(0);
      expect(pending.size).toBeGreaterThan(0);
      await Promise.all([a.transport.close(), b.transport.close()]);
      expect(pending.size).toBe(0);
      // Socket handles are released asynchronously after their close events.
      await waitFor(() => tcpHandles() === 0, 5_000, 'handles released');
      // Closing twice is fine, and send after close is a no-op.
      await a.transport.close();
      a.transport.send(2, 3);
      expect(pending.size).toBe(0);
    } finally {
      globalThis.setTimeout = realSetTimeout;
      globalThis.clearTimeout = realClearTimeout;
    }
  });
});
