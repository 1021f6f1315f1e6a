import type { InProcessCluster } from '@kbroker/broker';
import zookeeper from 'node-zookeeper-client';

export type ZkStat = { version: number; ephemeralOwner: Buffer };

/** A node-zookeeper-client session on `address`, with its callbacks turned into promises. */
export async function zkConnect(address: string) {
  const zk = zookeeper.createClient(address, { sessionTimeout: 10_000, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no zookeeper session with ${address}`)), 10_000);
    zk.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    zk.connect();
  });
  const call = <T>(fn: (cb: (err: Error | null, ...r: unknown[]) => void) => void): Promise<T[]> =>
    new Promise((resolve, reject) => fn((err, ...r) => (err ? reject(err) : resolve(r as T[]))));
  // null: a znode without data (as Kafka's deletion and election requests may be).
  const json = (v: unknown) =>
    (v === null ? null : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v))) as Buffer;
  return {
    zk,
    children: async (path: string, watch?: (e: unknown) => void) =>
      (
        await call<string[]>((cb) => (watch ? zk.getChildren(path, watch, cb) : zk.getChildren(path, cb)))
      )[0]!,
    exists: async (path: string) => (await call<ZkStat | null>((cb) => zk.exists(path, cb)))[0] ?? null,
    data: async (path: string) => {
      const [data, stat] = await call<unknown>((cb) => zk.getData(path, cb));
      return { data: data as Buffer | undefined, stat: stat as ZkStat };
    },
    create: async (path: string, data: unknown) =>
      (await call<string>((cb) => zk.create(path, json(data), cb)))[0]!,
    setData: async (path: string, data: unknown, version = -1) =>
      (await call<ZkStat>((cb) => zk.setData(path, json(data), version, cb)))[0]!,
    close: () => zk.close(),
  };
}

/** The ZooKeeper listener (`host:port`) of a running node of an in-process cluster. */
export function zkAddressOf(cluster: InProcessCluster, nodeId: number): string {
  const a = cluster.node(nodeId).node?.zookeeperAddress();
  if (a === undefined) throw new Error(`node ${nodeId} serves no zookeeper view`);
  return a;
}
