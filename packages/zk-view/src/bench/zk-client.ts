/**
 * The part of node-zookeeper-client's API the benchmark uses (the package ships no types), and a
 * connect helper. Copied from test/fixtures/zk-writer.ts (test fixtures are not compiled).
 */
import { createRequire } from 'node:module';

export interface ZkStat {
  readonly version: number;
  readonly cversion: number;
  readonly numChildren: number;
  readonly dataLength: number;
}
export interface ZkEvent {
  readonly type: number;
  readonly name: string;
  readonly path: string;
}
type Cb<T = void> = (err: Error | null, result?: T, stat?: ZkStat) => void;
export interface ZkClient {
  connect(): void;
  close(): void;
  once(event: 'connected', cb: () => void): void;
  on(event: 'disconnected' | 'expired', cb: () => void): void;
  create(path: string, data: Buffer | null, mode: number, cb: Cb<string>): void;
  setData(path: string, data: Buffer | null, version: number, cb: Cb<ZkStat>): void;
  getData(path: string, cb: (err: Error | null, data: Buffer | undefined, stat: ZkStat) => void): void;
  getData(
    path: string,
    watcher: (event: ZkEvent) => void,
    cb: (err: Error | null, data: Buffer | undefined, stat: ZkStat) => void,
  ): void;
  getChildren(path: string, cb: (err: Error | null, children: string[], stat: ZkStat) => void): void;
  transaction(): ZkTransaction;
}
export interface ZkTransaction {
  create(path: string, data: Buffer | undefined, mode: number): ZkTransaction;
  commit(cb: (err: Error | null) => void): void;
}
interface ZkModule {
  createClient(connect: string, options?: { sessionTimeout?: number; retries?: number }): ZkClient;
  CreateMode: { PERSISTENT: number; EPHEMERAL: number };
}

const require = createRequire(import.meta.url);
export const zookeeper = require('node-zookeeper-client') as ZkModule;

/** Connects a client and waits for the session. */
export function connectClient(connectString: string, timeoutMs = 10_000): Promise<ZkClient> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 30_000, retries: 0 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no ZooKeeper session from ${connectString} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

/** Connects, retrying until `timeoutMs` (the server may still be starting or forming a quorum). */
export async function connectWithRetry(connectString: string, timeoutMs = 30_000): Promise<ZkClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectClient(connectString, Math.max(1000, Math.min(5000, deadline - Date.now())));
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function getData(client: ZkClient, path: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) =>
    client.getData(path, (err, data) => (err ? reject(err) : resolve(data ?? null))),
  );
}

export function getChildren(client: ZkClient, path: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    client.getChildren(path, (err, children) => (err ? reject(err) : resolve(children))),
  );
}

/** Creates persistent znodes in one multi transaction (all or none). */
export function createAll(
  client: ZkClient,
  nodes: readonly (readonly [string, Buffer | null])[],
): Promise<void> {
  const t = client.transaction();
  for (const [path, data] of nodes) t.create(path, data ?? undefined, zookeeper.CreateMode.PERSISTENT);
  return new Promise((resolve, reject) => t.commit((err) => (err ? reject(err) : resolve())));
}

export function setData(client: ZkClient, path: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    client.setData(path, data, -1, (err) => (err ? reject(err) : resolve())),
  );
}

/** Runs `f` over `items` with at most `limit` in flight. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await f(items[next++]!);
    }),
  );
}
