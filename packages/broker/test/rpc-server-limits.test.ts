/**
 * The client listener bounds the work one connection can start: a client pipelining thousands of
 * requests that take long is not read further once 1024 are in flight, and is read again as answers
 * go out. A hello refused (another cluster) closes the connection instead of leaving it usable.
 */
import net from 'node:net';
import { encodeFrame, FrameDecoder } from '@kbroker/raft';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { toWireError } from '../src/node/errors.js';
import { type Handlers, RpcServer } from '../src/node/rpc-server.js';

const servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handlers: Handlers) {
  const server = new RpcServer({
    host: '127.0.0.1',
    port: 0,
    handlers,
    toWireError,
    logger: pino({ level: 'silent' }),
  });
  servers.push(server);
  return (await server.start()).port;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('RpcServer limits', () => {
  it('stops reading a connection with 1024 requests in flight, and resumes as they are answered', async () => {
    const waiting: (() => void)[] = [];
    const port = await serve({
      hello: () => ({ protocolVersion: 1, clusterId: 'c', nodeId: 1, roles: ['broker'] }),
      listTopics: () =>
        new Promise((resolve) => waiting.push(() => resolve({ topics: [], offset: 0 } as never))),
    });
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    const decoder = new FrameDecoder();
    let answers = 0;
    socket.on('data', (c: Buffer) => {
      answers += decoder.push(c).length;
    });
    socket.write(encodeFrame({ id: 1, api: 'hello', body: { clientId: 't', protocolVersion: 1 } }));
    await until(() => answers === 1, 'the hello answer');
    const total = 5000;
    const frames: Buffer[] = [];
    for (let i = 0; i < total; i++) frames.push(encodeFrame({ id: 2 + i, api: 'listTopics', body: {} }));
    socket.write(Buffer.concat(frames));
    await until(() => waiting.length >= 1024, '1024 requests in flight');
    // Every byte was sent at once: a server that kept reading would have decoded them all by now.
    await until(() => socket.writableLength === 0, 'the requests to leave');
    await new Promise((r) => setImmediate(r));
    // At most one more socket chunk's worth beyond the limit was decoded.
    expect(waiting.length).toBeLessThan(1024 + 2048);
    expect(waiting.length).toBeLessThan(total);
    // Answering lets the rest in, until every request was served.
    while (answers < total + 1) {
      for (const w of waiting.splice(0)) w();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(answers).toBe(total + 1);
    socket.destroy();
  });

  it('closes the connection after a refused hello', async () => {
    const port = await serve({
      hello: () => {
        throw Object.assign(new Error('another cluster'), { code: 'INCONSISTENT_CLUSTER_ID' });
      },
      listTopics: () => ({ topics: [], offset: 0 }) as never,
    });
    const socket = net.connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder();
    const got: { error?: { code: string } }[] = [];
    socket.on('data', (c: Buffer) => got.push(...(decoder.push(c) as { error?: { code: string } }[])));
    socket.write(
      encodeFrame({ id: 1, api: 'hello', body: { clientId: 't', protocolVersion: 1, clusterId: 'x' } }),
    );
    await new Promise((r) => socket.once('close', r));
    expect(got).toHaveLength(1);
    expect(got[0]!.error?.code).toBe('INCONSISTENT_CLUSTER_ID');
  });
});
