/**
 * Mutual TLS on the quorum transport, with a CA and certificates made at test time: nodes holding
 * certificates of the cluster CA exchange payloads; a node with a certificate of another CA, or with
 * none (plain TCP), is refused by the listener, both sides log it, and it receives nothing.
 */
import net from 'node:net';
import { type Logger, pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../packages/raft/src/sim/index.js';
import { type QuorumTlsOptions, TcpTransport } from '../../packages/raft/src/transport/tcp-transport.js';
import { createTestCa, type TestCa } from './helpers/certs.js';

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  return {
    logger: pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l) as Line) }),
    lines,
  };
}

let ca: TestCa;
let stranger: TestCa;
const open: TcpTransport<unknown>[] = [];

beforeAll(async () => {
  [ca, stranger] = await Promise.all([createTestCa(), createTestCa('some-other-ca')]);
});
afterAll(async () => {
  await Promise.all([ca?.remove(), stranger?.remove()]);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function node(id: number, tls: QuorumTlsOptions | undefined, logger: Logger) {
  const t = new TcpTransport<string>({
    nodeId: id,
    clusterId: 'c',
    listen: { host: '127.0.0.1', port: 0 },
    reconnectBackoffMs: { initial: 20, max: 100 },
    logger,
    tls,
  });
  open.push(t as TcpTransport<unknown>);
  const received: string[] = [];
  t.onReceive((_from, p) => received.push(p));
  await t.start();
  return { t, received, address: `127.0.0.1:${t.address()!.port}` };
}

const tlsOf = async (issuer: TestCa, name: string): Promise<QuorumTlsOptions> => {
  const leaf = await issuer.issue(name);
  return { cert: leaf.cert, key: leaf.key, ca: ca.ca };
};

describe('quorum transport over mutual TLS', () => {
  it('nodes with certificates of the cluster CA talk; others are refused and it is logged on both sides', async () => {
    const log1 = capture();
    const a = await node(1, await tlsOf(ca, 'node-1'), log1.logger);
    const b = await node(2, await tlsOf(ca, 'node-2'), pino({ level: 'silent' }));
    b.t.setPeerAddress(1, a.address);
    b.t.send(1, 'hello over tls');
    await waitFor(() => a.received.length === 1, 'a payload over TLS', 10_000);
    expect(a.received).toEqual(['hello over tls']);

    // A certificate from another CA (trusting the cluster CA, so only the listener can refuse it).
    const logBad = capture();
    const bad = await node(3, await tlsOf(stranger, 'node-3'), logBad.logger);
    bad.t.setPeerAddress(1, a.address);
    bad.t.send(1, 'let me in');
    await waitFor(
      () => log1.lines.some((l) => l.msg === 'refusing a quorum connection: TLS handshake failed'),
      'the listener to log the refusal',
      10_000,
    );
    await waitFor(
      () => logBad.lines.some((l) => l.msg === 'TLS handshake with peer failed'),
      `the dialer to log the refusal: ${JSON.stringify(logBad.lines.slice(-5))}`,
      10_000,
    );

    // Plain TCP, no certificate at all: refused before any frame is read.
    const before = log1.lines.filter((l) => l.msg.startsWith('refusing a quorum connection')).length;
    const port = a.t.address()!.port;
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(Buffer.from([0, 0, 0, 5, 0x85, 0xa1, 0x74, 0xa5, 0x68])); // a frame, not a ClientHello
    await new Promise<void>((r) => sock.once('close', () => r()));
    await waitFor(
      () => log1.lines.filter((l) => l.msg.startsWith('refusing a quorum connection')).length > before,
      'the plain-TCP refusal to be logged',
      10_000,
    );

    // Only the legitimate payload ever reached node 1; node 2 is still connected and heard.
    b.t.send(1, 'still here');
    await waitFor(() => a.received.length === 2, 'a second payload', 10_000);
    expect(a.received).toEqual(['hello over tls', 'still here']);
    expect(a.t.stats().get(3)).toBeUndefined();
  });
});
