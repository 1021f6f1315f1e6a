import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffMs, parseEndpoint, type ResolvedRetry, resolveConfig } from '../src/cluster.js';
import {
  ConnectionError,
  InconsistentClusterIdError,
  InvalidRequestError,
  Kbroker,
  type KbrokerConfig,
  KbrokerError,
  NotControllerError,
  RequestTimeoutError,
} from '../src/index.js';
import { FakeBroker, wireError } from './helpers/fake-broker.js';

const brokers: FakeBroker[] = [];
const clients: Kbroker[] = [];

async function fake(options?: Parameters<typeof FakeBroker.start>[0]): Promise<FakeBroker> {
  const b = await FakeBroker.start(options);
  brokers.push(b);
  return b;
}

function client(addresses: string[], extra: Partial<KbrokerConfig> = {}): Kbroker {
  const k = new Kbroker({
    brokers: addresses,
    clientId: 'cluster-test',
    requestTimeoutMs: 2000,
    connectionTimeoutMs: 1000,
    retry: { retries: 5, initialRetryTimeMs: 5, maxRetryTimeMs: 20 },
    ...extra,
  });
  clients.push(k);
  return k;
}

async function deadAddress(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

const topicsBody = { body: { topics: [{ name: 't', topicId: 'id', partitions: 1 }] } };
const createdBody = (name: string) => ({
  body: {
    topics: [
      {
        name,
        topicId: 'id',
        numPartitions: 1,
        replicationFactor: 1,
        errorCode: 0,
        errorMessage: null,
        error: null,
      },
    ],
    offset: 5,
  },
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

describe('config', () => {
  it('parses broker addresses', () => {
    expect(parseEndpoint('h:1')).toEqual({ host: 'h', port: 1 });
    expect(parseEndpoint('[::1]:9093')).toEqual({ host: '::1', port: 9093 });
    expect(parseEndpoint('host')).toEqual({ host: 'host', port: 9092 });
    expect(() => parseEndpoint('h:0')).toThrow(InvalidRequestError);
    expect(() => parseEndpoint('a:b:c')).toThrow(InvalidRequestError);
  });

  it('refuses an empty broker list and bad timeouts', () => {
    expect(() => new Kbroker({ brokers: [] })).toThrow(InvalidRequestError);
    expect(() => new Kbroker({ brokers: ['h:1'], requestTimeoutMs: 0 })).toThrow(InvalidRequestError);
    expect(() => resolveConfig({ brokers: ['h:1'], retry: { retries: -1 } })).toThrow(InvalidRequestError);
  });

  it('backs off exponentially within the jitter band, capped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initial, max, multiplier, factor, r) => {
          const retry: ResolvedRetry = {
            retries: 5,
            initialRetryTimeMs: initial,
            maxRetryTimeMs: max,
            multiplier,
            factor,
          };
          const base = Math.min(max, initial * multiplier ** attempt);
          const ms = backoffMs(attempt, retry, () => r);
          expect(ms).toBeGreaterThanOrEqual(Math.max(0, base * (1 - factor)) - 1e-6);
          expect(ms).toBeLessThanOrEqual(Math.min(max, base * (1 + factor)) + 1e-6);
        },
      ),
    );
  });
});

describe('Cluster discovery and routing', () => {
  it('bootstraps through any reachable broker and reuses one connection', async () => {
    const broker = await fake();
    const k = client([await deadAddress(), broker.address]);
    await k.connect();
    const rpc = k.rpc();
    broker.on('listTopics', () => topicsBody);
    await rpc.request('listTopics', {});
    await rpc.request('listTopics', {});
    await rpc.request('describeCluster', {});
    expect(broker.accepted).toBe(1);
    expect(broker.received('hello')).toHaveLength(1);
  });

  it('sends controller APIs to the controller endpoint and reads to the bootstrap broker', async () => {
    const controller = await fake({ nodeId: 2 });
    const broker = await fake({ nodeId: 1, controller: null });
    broker.controller = controller.endpoint;
    controller.on('createTopics', (req) => createdBody(req.body.topics[0].name));
    broker.on('listTopics', () => topicsBody);
    const k = client([broker.address]);
    await k
      .rpc()
      .request('createTopics', { topics: [{ name: 'a', numPartitions: 1, replicationFactor: 1 }] });
    await k.rpc().request('listTopics', {});
    expect(controller.received('createTopics')).toHaveLength(1);
    expect(broker.received('createTopics')).toHaveLength(0);
    expect(broker.received('listTopics')).toHaveLength(1);
  });

  it('sends controller APIs to any broker when the cluster names no controller', async () => {
    const broker = await fake({ controller: null });
    broker.on('createTopics', (req) => createdBody(req.body.topics[0].name));
    const k = client([broker.address]);
    await k
      .rpc()
      .request('createTopics', { topics: [{ name: 'a', numPartitions: 1, replicationFactor: 1 }] });
    expect(broker.received('createTopics')).toHaveLength(1);
  });

  it('refuses a cluster with another id at once, without retrying', async () => {
    const broker = await fake({ clusterId: 'theirs' });
    const k = client([broker.address], { clusterId: 'ours' });
    await expect(k.admin().connect()).rejects.toBeInstanceOf(InconsistentClusterIdError);
    expect(broker.received('hello')).toHaveLength(1);
  });

  it('refuses connection-scoped APIs through rpc', async () => {
    const k = client(['127.0.0.1:1']);
    await expect(k.rpc().request('hello', { clientId: 'x', protocolVersion: 1 })).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
  });
});

describe('Cluster retries', () => {
  it('retries an idempotent API across a dropped connection', async () => {
    const broker = await fake();
    let calls = 0;
    broker.on('listTopics', () => (++calls === 1 ? 'drop' : topicsBody));
    const k = client([broker.address]);
    const admin = k.admin();
    expect(await admin.listTopics()).toEqual(['t']);
    expect(broker.received('listTopics')).toHaveLength(2);
    expect(broker.accepted).toBe(2);
  });

  it('retries an idempotent API after a request timeout', async () => {
    const broker = await fake();
    let calls = 0;
    broker.on('listTopics', () => (++calls === 1 ? 'ignore' : topicsBody));
    const k = client([broker.address], { requestTimeoutMs: 50 });
    expect(await k.admin().listTopics()).toEqual(['t']);
    expect(broker.received('listTopics')).toHaveLength(2);
  });

  it('does not retry a non-idempotent write whose connection dropped after it was sent', async () => {
    const broker = await fake();
    broker.on('createTopics', () => 'drop');
    const k = client([broker.address]);
    const err = await k
      .admin()
      .createTopics({ topics: [{ topic: 'a' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ retriable: true, requestSent: true });
    expect(broker.received('createTopics')).toHaveLength(1);
  });

  it('does not retry a non-idempotent write a broker forwarded and lost its controller connection for', async () => {
    // The broker forwarded the write to the controller and that connection broke: the broker answers
    // CONNECTION_ERROR, yet the controller may have applied the write (found by the chaos run).
    const broker = await fake();
    broker.on('createTopics', () => wireError('CONNECTION_ERROR', -1, true));
    const k = client([broker.address]);
    const err = await k
      .admin()
      .createTopics({ topics: [{ topic: 'a' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ retriable: true, requestSent: true });
    expect(broker.received('createTopics')).toHaveLength(1);
  });

  it('does not retry a non-idempotent write that timed out', async () => {
    const broker = await fake();
    broker.on('deleteTopics', () => 'ignore');
    const k = client([broker.address]);
    const err = await k
      .admin()
      .deleteTopics({ topics: ['a'], timeout: 50 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(broker.received('deleteTopics')).toHaveLength(1);
  });

  it('retries a non-idempotent write when the connection failed before it was written', async () => {
    const broker = await fake();
    let hellos = 0;
    const hello = broker.handlers.get('hello')!;
    broker.on('hello', (req) => (++hellos <= 2 ? 'drop' : hello(req)));
    broker.on('deleteTopics', () => ({ body: { topics: [], offset: 3 } }));
    const k = client([broker.address]);
    await k.admin().deleteTopics({ topics: [] });
    expect(broker.received('deleteTopics')).toHaveLength(1);
    expect(hellos).toBeGreaterThanOrEqual(3);
  });

  it('stops after the configured retries with the last error', async () => {
    const broker = await fake();
    broker.on('describeTopics', () => wireError('LEADER_NOT_AVAILABLE', 5, true));
    const k = client([broker.address], { retry: { retries: 2, initialRetryTimeMs: 1, maxRetryTimeMs: 2 } });
    const err = await k
      .admin()
      .describeTopics({ topics: ['a'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KbrokerError);
    expect(err).toMatchObject({ code: 'LEADER_NOT_AVAILABLE', errorCode: 5 });
    expect(broker.received('describeTopics')).toHaveLength(3);
  });

  it('does not retry a non-retriable broker error', async () => {
    const broker = await fake();
    broker.on('listTopics', () => wireError('CLUSTER_AUTHORIZATION_FAILED', 31, false));
    const k = client([broker.address]);
    await expect(k.admin().listTopics()).rejects.toMatchObject({ code: 'CLUSTER_AUTHORIZATION_FAILED' });
    expect(broker.received('listTopics')).toHaveLength(1);
  });

  it('follows NOT_CONTROLLER to the leaderEndpoint for an idempotent controller API', async () => {
    const stale = await fake({ nodeId: 1 });
    const active = await fake({ nodeId: 2 });
    stale.on('alterConfigs', () =>
      wireError('NOT_CONTROLLER', 41, true, { leaderId: 2, leaderEndpoint: active.endpoint }),
    );
    active.on('alterConfigs', () => ({ body: { resources: [], offset: 7 } }));
    const admin = client([stale.address]).admin();
    await admin.alterConfigs({ resources: [] });
    expect(stale.received('alterConfigs')).toHaveLength(1);
    expect(active.received('alterConfigs')).toHaveLength(1);
    // The client now knows the controller: the next controller API goes straight there.
    await admin.alterConfigs({ resources: [] });
    expect(stale.received('alterConfigs')).toHaveLength(1);
  });

  it('refreshes the controller with describeCluster when NOT_CONTROLLER names none', async () => {
    const stale = await fake({ nodeId: 1 });
    const active = await fake({ nodeId: 2 });
    let moved = false;
    stale.on('alterConfigs', () => {
      moved = true;
      stale.controller = active.endpoint;
      return wireError('NOT_CONTROLLER', 41, true);
    });
    active.on('alterConfigs', () => ({ body: { resources: [], offset: 7 } }));
    const k = client([stale.address]);
    await k.admin().alterConfigs({ resources: [] });
    expect(moved).toBe(true);
    expect(active.received('alterConfigs')).toHaveLength(1);
    expect(stale.received('describeCluster').length).toBeGreaterThanOrEqual(2);
  });

  it('asks another broker when one knows no controller (cut off from the quorum)', async () => {
    const cutOff = await fake({ nodeId: 1 });
    const healthy = await fake({ nodeId: 2 });
    healthy.controller = healthy.endpoint;
    healthy.on('alterConfigs', () => ({ body: { resources: [], offset: 7 } }));
    // Cut off: it knows both brokers but no controller, and refuses controller APIs naming none.
    cutOff.controller = null;
    cutOff.on('describeCluster', () => {
      const own = cutOff.describeCluster() as { brokers: unknown[] };
      const other = (healthy.describeCluster() as { brokers: unknown[] }).brokers;
      return { body: { ...own, controllerId: 0, brokers: [...own.brokers, ...other] } };
    });
    cutOff.on('alterConfigs', () => wireError('NOT_CONTROLLER', 41, true));
    // Bootstrapped with the cut-off broker alone: it is asked once, then tried last.
    const k = client([cutOff.address]);
    await k.admin().alterConfigs({ resources: [] });
    expect(cutOff.received('alterConfigs')).toHaveLength(1);
    expect(healthy.received('alterConfigs')).toHaveLength(1);
    expect(healthy.received('describeCluster').length).toBeGreaterThanOrEqual(1);
  });

  it('fails a non-idempotent write on NOT_CONTROLLER but routes the next one to the named controller', async () => {
    const stale = await fake({ nodeId: 1 });
    const active = await fake({ nodeId: 2 });
    stale.on('createTopics', () =>
      wireError('NOT_CONTROLLER', 41, true, { leaderId: 2, leaderEndpoint: active.endpoint }),
    );
    active.on('createTopics', (req) => createdBody(req.body.topics[0].name));
    const k = client([stale.address]);
    const admin = k.admin();
    const err = await admin
      .createTopics({ topics: [{ topic: 'a' }], waitForLeaders: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotControllerError);
    expect(err).toMatchObject({ retriable: true, leaderId: 2 });
    expect(active.received('createTopics')).toHaveLength(0);
    expect(await admin.createTopics({ topics: [{ topic: 'a' }], waitForLeaders: false })).toBe(true);
    expect(active.received('createTopics')).toHaveLength(1);
    expect(stale.received('createTopics')).toHaveLength(1);
  });

  it('rejects in-flight requests and pending retries on disconnect', async () => {
    const broker = await fake();
    broker.on('listTopics', () => 'ignore');
    broker.on('describeTopics', () => wireError('LEADER_NOT_AVAILABLE', 5, true));
    const k = client([broker.address], { retry: { retries: 100, initialRetryTimeMs: 10_000 } });
    const admin = k.admin();
    const inflight = admin.listTopics().catch((e: unknown) => e);
    const retrying = admin.describeTopics({ topics: ['a'] }).catch((e: unknown) => e);
    await broker.waitFor('listTopics');
    await broker.waitFor('describeTopics');
    await admin.disconnect();
    expect(await inflight).toBeInstanceOf(ConnectionError);
    expect(await retrying).toBeInstanceOf(ConnectionError);
    expect(await retrying).toMatchObject({ retriable: false });
  });
});
