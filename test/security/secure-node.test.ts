/**
 * A real `kbroker` process started with TLS on its client, quorum and HTTP listeners and a users file
 * made with `kbroker credential`, reached through the real interfaces: the client library (TLS +
 * SCRAM), the CLI, HTTPS, and node-zookeeper-client with digest auth on the ZooKeeper listener.
 */

import { writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { AuthenticationError, AuthorizationError, Kbroker } from '@kbroker/client';
import { freePorts, waitFor } from '@kbroker/raft/testing';
import zookeeper from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupProcesses,
  KbrokerProcess,
  randomClusterIdFromCli,
  runCli,
  tempDir,
} from '../e2e/helpers/processes.js';
import { createTestCa, type TestCa } from './helpers/certs.js';

let ca: TestCa;
let node: KbrokerProcess;
let dir: string;
let client: string;
let zkAddress: string;
let https: string;
const clients: Kbroker[] = [];

/** Runs `kbroker credential`, the password in a file, and returns the user entry. */
async function credential(user: string, permission: string, password: string): Promise<unknown> {
  const file = join(dir, `${user}.password`);
  await writeFile(file, `${password}\n`);
  const r = await runCli(['credential', '--user', user, '--permission', permission, '--password-file', file]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function connect(options: { tls?: boolean; user?: string; password?: string } = {}): Kbroker {
  const k = new Kbroker({
    brokers: [client],
    clientId: 'security-test',
    connectionTimeoutMs: 2_000,
    requestTimeoutMs: 5_000,
    retry: { retries: 0 },
    ...(options.tls === false ? {} : { tls: { ca: ca.ca } }),
    ...(options.user === undefined
      ? {}
      : { sasl: { username: options.user, password: options.password ?? '' } }),
  });
  clients.push(k);
  return k;
}

beforeAll(async () => {
  ca = await createTestCa();
  dir = await tempDir('kbroker-secure-');
  const leaf = await ca.issue('node-1');
  const users = await Promise.all([
    credential('alice', 'write', 'alice-secret'),
    credential('reader', 'read', 'reader-secret'),
  ]);
  const usersFile = join(dir, 'users.json');
  await writeFile(usersFile, JSON.stringify({ users }));
  const [clientPort, quorumPort, httpPort, zkPort] = await freePorts(4);
  client = `127.0.0.1:${clientPort}`;
  zkAddress = `127.0.0.1:${zkPort}`;
  https = `127.0.0.1:${httpPort}`;
  node = new KbrokerProcess({
    nodeId: 1,
    clusterId: await randomClusterIdFromCli(),
    controllerQuorum: `1@127.0.0.1:${quorumPort}`,
    dataDir: join(dir, 'data'),
    client,
    http: https,
    extraArgs: [
      '--zookeeper-listener',
      zkAddress,
      '--tls-cert',
      leaf.certFile,
      '--tls-key',
      leaf.keyFile,
      '--tls-ca',
      ca.caFile,
      '--tls-listeners',
      'client,quorum,http',
      '--users-file',
      usersFile,
      '--unauthenticated-access',
      'metadata',
    ],
  }).start();
  const probe = connect();
  await waitFor(async () => {
    try {
      return (await probe.admin().describeCluster()).brokers.length === 1;
    } catch {
      return false;
    }
  }, 'the secured node to serve over TLS');
});

afterAll(async () => {
  await Promise.all(clients.map((k) => k.disconnect().catch(() => {})));
  await cleanupProcesses();
  await ca?.remove();
});

describe('a node with TLS and users', () => {
  it('refuses plain TCP on the TLS client listener, and logs the refused handshake', async () => {
    const mark = node.mark();
    await expect(connect({ tls: false }).admin().describeCluster()).rejects.toThrow();
    await node.waitForLog(/refusing a client connection: TLS handshake failed/, { after: mark });
  });

  it('lets anonymous clients read metadata only', async () => {
    const anon = connect();
    expect((await anon.admin().describeCluster()).brokers.map((b) => b.nodeId)).toEqual([1]);
    await expect(
      anon.admin().createTopics({ topics: [{ topic: 'anon', numPartitions: 1 }] }),
    ).rejects.toBeInstanceOf(AuthorizationError);
    await expect(
      anon.admin().describeConfigs({ resources: [{ type: 'broker', name: '1' }] } as never),
    ).rejects.toBeInstanceOf(AuthorizationError);
  });

  it('authenticates with SCRAM: wrong passwords are refused and logged, permissions apply', async () => {
    const mark = node.mark();
    await expect(
      connect({ user: 'alice', password: 'wrong' }).admin().describeCluster(),
    ).rejects.toBeInstanceOf(AuthenticationError);
    await expect(
      connect({ user: 'mallory', password: 'x' }).admin().describeCluster(),
    ).rejects.toBeInstanceOf(AuthenticationError);
    await node.waitForLog(/client authentication failed/, { after: mark });

    const alice = connect({ user: 'alice', password: 'alice-secret' });
    expect(await alice.admin().createTopics({ topics: [{ topic: 'by-alice', numPartitions: 1 }] })).toBe(
      true,
    );
    const reader = connect({ user: 'reader', password: 'reader-secret' });
    expect(await reader.admin().listTopics()).toContain('by-alice');
    await expect(
      reader.admin().createTopics({ topics: [{ topic: 'by-reader', numPartitions: 1 }] }),
    ).rejects.toBeInstanceOf(AuthorizationError);
  });

  it('the CLI takes --tls-ca, --user and --password-file', async () => {
    const pw = join(dir, 'alice.password');
    const ok = await runCli([
      'topics',
      'list',
      '--bootstrap',
      client,
      '--tls-ca',
      ca.caFile,
      '--user',
      'alice',
      '--password-file',
      pw,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('by-alice');
    const anonWrite = await runCli([
      'topics',
      'create',
      '--topic',
      'cli-anon',
      '--partitions',
      '1',
      '--replication-factor',
      '1',
      '--bootstrap',
      client,
      '--tls-ca',
      ca.caFile,
    ]);
    expect(anonWrite.code).not.toBe(0);
    expect(anonWrite.stderr.trim().split('\n')).toHaveLength(1);
    expect(anonWrite.stderr).toMatch(/AUTHORIZATION_FAILED/);
  });

  it('serves /health over HTTPS', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const [host, port] = https.split(':');
      httpsGet({ host, port: Number(port), path: '/health', ca: ca.ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
  });

  it('ZooKeeper: digest auth for reads and writes by permission, unknown digests refused', async () => {
    const session = async (auth?: string) => {
      const zk = zookeeper.createClient(zkAddress, { sessionTimeout: 10_000, retries: 0 });
      await new Promise<void>((resolve) => {
        zk.once('connected', () => resolve());
        zk.connect();
      });
      if (auth !== undefined) zk.addAuthInfo('digest', Buffer.from(auth));
      return zk;
    };
    const call = <T>(fn: (cb: (err: Error | null, r?: T) => void) => void) =>
      new Promise<{ err: Error | null; r?: T }>((resolve) => fn((err, r) => resolve({ err, r })));

    // Anonymous: with --unauthenticated-access metadata, znodes (configs, offsets) are not readable.
    const anon = await session();
    const anonRead = await call<string[]>((cb) => anon.getChildren('/brokers/topics', cb));
    expect(String(anonRead.err)).toMatch(/NO_AUTH/);
    const anonWrite = await call((cb) => anon.create('/admin/delete_topics/by-alice', cb));
    expect(String(anonWrite.err)).toMatch(/NO_AUTH/);
    anon.close();

    // A reader reads but does not write.
    const reader = await session('reader:reader-secret');
    const topics = await call<string[]>((cb) => reader.getChildren('/brokers/topics', cb));
    expect(topics.err).toBeNull();
    expect(topics.r).toContain('by-alice');
    const readerWrite = await call((cb) => reader.create('/admin/delete_topics/by-alice', cb));
    expect(String(readerWrite.err)).toMatch(/NO_AUTH/);
    reader.close();

    const alice = await session('alice:alice-secret');
    const write = await call((cb) => alice.create('/admin/delete_topics/by-alice', cb));
    expect(write.err).toBeNull();
    alice.close();

    const mark = node.mark();
    const bad = await session('alice:wrong');
    const state = await new Promise<string>((resolve) => {
      bad.once('authenticationFailed', () => resolve('auth-failed'));
      bad.once('disconnected', () => resolve('disconnected'));
      bad.getChildren('/', () => undefined);
    });
    expect(['auth-failed', 'disconnected']).toContain(state);
    bad.close();
    await node.waitForLog(/zk auth failed: unknown user or wrong password/, { after: mark });
  });
});
