/**
 * The fault proxy: bytes pass, a blocked direction holds them until it heals, a rejected pair resets
 * connections, delays keep order, and faults apply per direction of a pair.
 */
import { createServer, type Server, Socket } from 'node:net';
import { waitFor } from '@kbroker/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkProxy, Network } from '../../src/chaos/proxy.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** An echo server that also records what it received. */
async function echoServer(): Promise<{ port: number; received: () => string }> {
  let got = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', (c) => {
      got += c.toString();
      s.write(c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as { port: number }).port, received: () => got };
}

async function setup() {
  const echo = await echoServer();
  const network = new Network();
  const proxy = new LinkProxy({ from: 1, to: 2, target: { host: '127.0.0.1', port: echo.port }, network });
  const port = await proxy.listen();
  closers.push(() => proxy.close());
  return { echo, network, proxy, port };
}

/** A client connection collecting what comes back, and whether it was reset or closed. */
async function dial(port: number) {
  const s = new Socket();
  let back = '';
  let closed = false;
  s.on('data', (c) => {
    back += c.toString();
  });
  s.on('error', () => {});
  s.on('close', () => {
    closed = true;
  });
  // A connection the proxy resets may close before it reports being connected.
  await new Promise<void>((r) => {
    s.once('close', () => r());
    s.connect(port, '127.0.0.1', r);
  });
  closers.push(async () => void s.destroy());
  return { s, back: () => back, closed: () => closed };
}

describe('fault proxy', () => {
  it('passes bytes both ways when healthy', async () => {
    const { port } = await setup();
    const c = await dial(port);
    c.s.write('hello');
    await waitFor(() => c.back() === 'hello', 'the echo');
  });

  it('holds a blocked direction until it heals, then delivers in order', async () => {
    const { echo, network, port } = await setup();
    // A second pair to the same server: it is not blocked, and shows when held bytes would have arrived.
    const other = new LinkProxy({ from: 3, to: 2, target: { host: '127.0.0.1', port: echo.port }, network });
    const otherPort = await other.listen();
    closers.push(() => other.close());
    const c = await dial(port);
    c.s.write('a');
    await waitFor(() => c.back() === 'a', 'the first echo');
    network.block(1, 2);
    c.s.write('b');
    c.s.write('c');
    const probe = await dial(otherPort);
    probe.s.write('x');
    await waitFor(() => probe.back() === 'x', 'the unblocked pair');
    expect(echo.received()).toBe('ax');
    network.heal();
    await waitFor(() => c.back() === 'abc', 'the held bytes');
    expect(echo.received()).toBe('axbc');
  });

  it('blocks one direction only: requests arrive, answers are held', async () => {
    const { echo, network, port } = await setup();
    const c = await dial(port);
    network.block(2, 1);
    c.s.write('ping');
    await waitFor(() => echo.received() === 'ping', 'the request at the server');
    expect(c.back()).toBe('');
    network.heal();
    await waitFor(() => c.back() === 'ping', 'the answer after healing');
  });

  it('resets connections of a rejected pair, and new ones, in either direction of the pair', async () => {
    const { network, port, proxy } = await setup();
    const c = await dial(port);
    c.s.write('a');
    await waitFor(() => c.back() === 'a', 'the echo');
    network.reject(2, 1);
    await waitFor(() => c.closed(), 'the reset');
    const again = await dial(port);
    await waitFor(() => again.closed(), 'a new connection reset at once');
    expect(proxy.open).toBe(0);
    network.heal();
    const healed = await dial(port);
    healed.s.write('b');
    await waitFor(() => healed.back() === 'b', 'the echo after healing');
  });

  it('delays a direction without reordering, and only the pair it is set on', async () => {
    const { network, port } = await setup();
    const c = await dial(port);
    network.delay(1, 2, 150);
    const sent = Date.now();
    for (const ch of 'delayed') c.s.write(ch);
    await waitFor(() => c.back() === 'delayed', 'the delayed echo');
    // A lower bound only: the bytes cannot have come back sooner than the delay.
    expect(Date.now() - sent).toBeGreaterThanOrEqual(140);
    expect(network.delayOf(2, 1)).toBe(0);
    expect(network.delayOf(1, 3)).toBe(0);
    expect(network.describe()).toBe('delay 1>2 150ms');
  });
});
