import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionOptions } from '../src/connection.js';
import {
  ConnectionError,
  InconsistentClusterIdError,
  KbrokerError,
  NotControllerError,
  ProtocolError,
  RequestTimeoutError,
  UnsupportedVersionError,
} from '../src/errors.js';
import type { EventFrame } from '../src/protocol.js';
import { FakeBroker, wireError } from './helpers/fake-broker.js';

const brokers: FakeBroker[] = [];
const connections: Connection[] = [];

async function fake(options?: Parameters<typeof FakeBroker.start>[0]): Promise<FakeBroker> {
  const b = await FakeBroker.start(options);
  brokers.push(b);
  return b;
}

function options(broker: FakeBroker, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return {
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'test-client',
    connectionTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    ...extra,
  };
}

async function open(broker: FakeBroker, extra: Partial<ConnectionOptions> = {}): Promise<Connection> {
  const conn = Connection.open(broker.endpoint, options(broker, extra));
  connections.push(conn);
  await conn.ready;
  return conn;
}

afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

describe('Connection handshake', () => {
  it('sends hello first with client id, protocol version and cluster id', async () => {
    const broker = await fake({ clusterId: 'c1', nodeId: 7 });
    const conn = await open(broker, { clusterId: 'c1' });
    expect(broker.requests[0]?.api).toBe('hello');
    expect(broker.requests[0]?.body).toEqual({
      clientId: 'test-client',
      protocolVersion: 1,
      clusterId: 'c1',
    });
    expect(conn.hello).toMatchObject({ clusterId: 'c1', nodeId: 7, protocolVersion: 1 });
  });

  it('fails with the broker refusal when the broker belongs to another cluster', async () => {
    const broker = await fake({ clusterId: 'other' });
    const err = await open(broker, { clusterId: 'mine' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InconsistentClusterIdError);
    expect(err).toMatchObject({ code: 'INCONSISTENT_CLUSTER_ID', errorCode: 104, retriable: false });
    expect(connections[0]?.isOpen).toBe(false);
  });

  it('refuses a broker that answers with another cluster id even if it ignores ours', async () => {
    const broker = await fake({ clusterId: 'other' });
    broker.on('hello', () => ({
      body: { protocolVersion: 1, clusterId: 'other', nodeId: 1, roles: ['broker'] },
    }));
    const err = await open(broker, { clusterId: 'mine' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InconsistentClusterIdError);
    await broker.waitForNoConnections();
  });

  it('refuses a broker speaking another protocol version', async () => {
    const broker = await fake();
    broker.on('hello', () => ({ body: { protocolVersion: 2, clusterId: 'x', nodeId: 1, roles: [] } }));
    await expect(open(broker)).rejects.toBeInstanceOf(UnsupportedVersionError);
  });

  it('times out a broker that never answers hello', async () => {
    const broker = await fake();
    broker.on('hello', () => 'ignore');
    const err = await open(broker, { connectionTimeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/timed out connecting/);
    await broker.waitForNoConnections();
  });

  it('fails with a retriable ConnectionError when nothing listens', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const conn = Connection.open(
      { host: '127.0.0.1', port },
      { host: '127.0.0.1', port, clientId: 't', connectionTimeoutMs: 1000, requestTimeoutMs: 1000 },
    );
    const err = await conn.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ retriable: true, requestSent: false });
  });
});

describe('Connection requests', () => {
  it('matches responses to requests by id whatever their order', async () => {
    const broker = await fake();
    const held: { id: number; name: string; send: (v: unknown) => void }[] = [];
    broker.on('describeTopics', (req) => {
      held.push({ id: req.id, name: req.body.names[0], send: (v) => req.conn.send(v) });
      if (held.length === 3) {
        for (const h of [...held].reverse()) {
          h.send({ id: h.id, body: { topics: [{ name: h.name }] } });
        }
      }
      return 'ignore';
    });
    const conn = await open(broker);
    const results = await Promise.all(
      ['a', 'b', 'c'].map((n) => conn.request('describeTopics', { names: [n] })),
    );
    expect(results.map((r) => r.topics[0]?.name)).toEqual(['a', 'b', 'c']);
    const ids = broker.received('describeTopics').map((r) => r.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('maps a response error to its typed error', async () => {
    const broker = await fake();
    broker.on('createTopics', () =>
      wireError('NOT_CONTROLLER', 41, true, { leaderId: 3, leaderEndpoint: { host: 'h', port: 1 } }),
    );
    const conn = await open(broker);
    const err = await conn.request('createTopics', { topics: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotControllerError);
    expect(err).toBeInstanceOf(KbrokerError);
    expect(err).toMatchObject({ leaderId: 3, leaderEndpoint: { host: 'h', port: 1 }, retriable: true });
  });

  it('times a request out, drops its late answer and keeps the connection usable', async () => {
    const broker = await fake();
    let first: ((v: unknown) => void) | undefined;
    let firstId = -1;
    broker.on('listTopics', (req) => {
      if (first === undefined) {
        first = (v) => req.conn.send(v);
        firstId = req.id;
        return 'ignore';
      }
      return { body: { topics: [{ name: 'second', topicId: 't', partitions: 1 }] } };
    });
    const conn = await open(broker);
    const err = await conn.request('listTopics', {}, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err).toMatchObject({ code: 'REQUEST_TIMED_OUT', retriable: true });
    expect(broker.received('listTopics')[0]?.timeoutMs).toBe(30);
    first?.({ id: firstId, body: { topics: [{ name: 'late', topicId: 't', partitions: 1 }] } });
    const res = await conn.request('listTopics', {});
    expect(res.topics[0]?.name).toBe('second');
    expect(conn.pendingRequests).toBe(0);
  });

  it('rejects pending requests with ConnectionError on close, and later ones as not sent', async () => {
    const broker = await fake();
    broker.on('listTopics', () => 'ignore');
    const conn = await open(broker);
    const pending = conn.request('listTopics', {}).catch((e: unknown) => e);
    await broker.waitFor('listTopics');
    await conn.close();
    const err = await pending;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ requestSent: true });
    expect(conn.isOpen).toBe(false);
    await expect(conn.request('listTopics', {})).rejects.toMatchObject({ requestSent: false });
  });

  it('rejects pending requests when the broker drops the connection', async () => {
    const broker = await fake();
    broker.on('listTopics', () => 'drop');
    const conn = await open(broker);
    let reason: unknown;
    conn.onClose((err) => {
      reason = err;
    });
    const err = await conn.request('listTopics', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ requestSent: true, retriable: true });
    expect(reason).toBeInstanceOf(ConnectionError);
  });

  it('closes the connection on a frame above the limit, before reading its body', async () => {
    const broker = await fake();
    broker.on('listTopics', (req) => ({ raw: { id: req.id, body: { pad: 'x'.repeat(4096) } } }));
    const conn = await open(broker, { maxFrameBytes: 1024 });
    let reason: unknown;
    conn.onClose((err) => {
      reason = err;
    });
    const err = await conn.request('listTopics', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(reason).toBeInstanceOf(ProtocolError);
    expect((reason as Error).message).toMatch(/exceeds the limit/);
  });

  it('refuses to send a request above the frame limit, without closing', async () => {
    const broker = await fake();
    const conn = await open(broker, { maxFrameBytes: 1024 });
    const err = await conn.request('describeTopics', { names: ['x'.repeat(2000)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(conn.isOpen).toBe(true);
    expect(broker.received('describeTopics')).toHaveLength(0);
  });

  it('routes event frames to the handler of their watch, registered before later frames', async () => {
    const broker = await fake();
    broker.on('watch', (req) => {
      req.conn.send({ id: req.id, body: { watch: 9, offset: 0 } });
      req.conn.event(9, [{ offset: 1, type: 'broker-registered', brokerId: 1 }]);
      req.conn.event(8, [{ offset: 1, type: 'broker-registered', brokerId: 2 }]);
      return 'ignore';
    });
    const conn = await open(broker);
    const frames: EventFrame[] = [];
    const got = new Promise<void>((resolve) => {
      void conn.request(
        'watch',
        {},
        {
          onBody: (body) =>
            conn.setEventHandler((body as { watch: number }).watch, (f) => {
              frames.push(f);
              resolve();
            }),
        },
      );
    });
    await got;
    expect(frames).toEqual([{ watch: 9, events: [{ offset: 1, type: 'broker-registered', brokerId: 1 }] }]);
  });
});
