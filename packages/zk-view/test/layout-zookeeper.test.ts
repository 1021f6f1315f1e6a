/**
 * The fixture writer against a real ZooKeeper 3.8: the layout it writes reads back from ZooKeeper the
 * same as the view serves it (paths, bytes, children, versions, cversions, ephemerality). Skipped, with
 * the reason, when Java or the ZooKeeper package is not installed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTree, joinPath, walk } from '../src/layout.js';
import { MetadataZnodeTree } from '../src/tree.js';
import { fence, removeTopic, sampleCluster, T, topicConfig } from './fixtures/metadata.js';
import { type RealZooKeeper, startZooKeeper, zookeeperUnavailable } from './fixtures/real-zookeeper.js';
import { readZnode, writeLayout } from './fixtures/zk-writer.js';

const unavailable = zookeeperUnavailable();
if (unavailable !== undefined) console.warn(`skipping real-ZooKeeper tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('layout written into a real ZooKeeper', () => {
  let zk: RealZooKeeper;
  // A fresh server per test: each writes a whole layout from the root.
  beforeEach(async () => {
    zk = await startZooKeeper();
  });
  afterEach(async () => {
    await zk?.stop();
  });

  it('reads back exactly as the view serves it', async () => {
    const { log, epochs } = sampleCluster();
    let leader = 1;
    const tree = new MetadataZnodeTree(log.sm, { controllerId: () => leader });
    // Some history: a deletion (cversion), a fence/unfence (ephemeral re-created), a config emptied.
    log.apply(removeTopic(T.payments));
    log.apply(fence(3, epochs[3]!, 1));
    log.apply(fence(3, epochs[3]!, -1));
    log.apply(topicConfig('orders', 'retention.ms', null));
    leader = 2;
    log.newTerm();
    const view = tree.current();
    const written = await writeLayout(zk.connectString, view);
    try {
      const paths = [...walk(view)];
      for (const path of paths) {
        const mine = view.get(path)!;
        const real = await readZnode(written.client, path);
        expect(real, path).toBeDefined();
        const children = real!.children.filter((n) => !n.startsWith('zk-writer-removed-'));
        expect(children.sort(), path).toEqual([...view.children(path)!].sort());
        expect(real!.data === null ? null : [...real!.data], path).toEqual(
          mine.data === null ? null : [...mine.data],
        );
        expect(
          {
            version: real!.stat.version,
            cversion: real!.stat.cversion,
            numChildren: real!.stat.numChildren,
            dataLength: real!.stat.dataLength,
            ephemeral: !real!.stat.ephemeralOwner.equals(Buffer.alloc(8)),
          },
          path,
        ).toEqual({
          version: mine.stat.version,
          cversion: mine.stat.cversion,
          numChildren: mine.stat.numChildren,
          dataLength: mine.stat.dataLength,
          ephemeral: mine.stat.ephemeralOwner !== 0n,
        });
      }
      // Nothing in the real tree the view does not have.
      const realPaths: string[] = [];
      const visit = async (p: string): Promise<void> => {
        realPaths.push(p);
        const z = await readZnode(written.client, p);
        for (const n of z!.children) await visit(joinPath(p, n));
      };
      await visit('/');
      expect(realPaths.sort()).toEqual(paths.sort());
      // One session per broker registration holds its ephemeral.
      expect(written.sessions.size).toBe(3);
    } finally {
      await written.close();
      tree.close();
    }
  });

  it('the ephemerals go with their sessions', async () => {
    const { log } = sampleCluster();
    const written = await writeLayout(zk.connectString, buildTree(log.image));
    const session = written.sessions.values().next().value!;
    session.close();
    const { connectClient } = await import('./fixtures/zk-writer.js');
    const observer = await connectClient(zk.connectString);
    try {
      // Closing a session deletes its ephemerals at once (no expiry wait).
      for (;;) {
        const ids = await readZnode(observer, '/brokers/ids');
        if (ids!.children.length === 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      observer.close();
      await written.close();
    }
  });
});
