import { ZooKeeperServer, type ZooKeeperServerOptions } from '../../src/server/index.js';
import { kafkaTree, type MemoryZnodeTree } from './memory-tree.js';

export interface Running {
  readonly server: ZooKeeperServer;
  readonly tree: MemoryZnodeTree;
  readonly port: number;
}

const running: Running[] = [];

/** Starts a server on a free port over `tree` (default: a Kafka-shaped tree). */
export async function startServer(
  options: Partial<ZooKeeperServerOptions> & { tree?: MemoryZnodeTree; port?: number } = {},
): Promise<Running> {
  const tree = options.tree ?? kafkaTree();
  const server = new ZooKeeperServer({ ...options, tree });
  const addr = await server.listen(options.port ?? 0, '127.0.0.1');
  const r = { server, tree, port: addr.port };
  running.push(r);
  return r;
}

/** Closes every server started by startServer (call from afterEach). */
export async function stopServers(): Promise<void> {
  const all = running.splice(0);
  await Promise.all(all.map((r) => r.server.close()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns true. */
export async function eventually(fn: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
