/**
 * A node is reachable before it can serve: its client listener is bound first (its address goes into
 * registrations), then Raft starts, which can take seconds with a large snapshot. A client connecting
 * in between must hear a retriable refusal, not "unknown api hello" (read as a protocol mismatch).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@kbroker/client/connection';
import { formatDataDir, randomClusterId } from '@kbroker/raft';
import { freePorts } from '@kbroker/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/node/config.js';
import { type KbrokerNode, startNode } from '../src/node/node.js';

let node: KbrokerNode | undefined;
let root: string | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
  if (root !== undefined) await rm(root, { recursive: true, force: true });
  root = undefined;
});

describe('a node that is still starting', () => {
  it('answers a client with a retriable BROKER_NOT_AVAILABLE until Raft has started, then serves it', async () => {
    root = await mkdtemp(join(tmpdir(), 'kbroker-starting-'));
    const clusterId = randomClusterId();
    const [client, quorum] = await freePorts(2);
    const dataDir = join(root, 'node-1');
    await formatDataDir(dataDir, { clusterId, nodeId: 1 });
    const config = resolveConfig({
      nodeId: 1,
      controllerQuorum: `1@127.0.0.1:${quorum}`,
      roles: ['broker', 'controller'],
      listener: `127.0.0.1:${client}`,
      dataDir,
      clusterId,
      logLevel: 'silent',
    });
    // Startup holds before Raft until the test has looked at the listener.
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let reachedHold!: () => void;
    const atHold = new Promise<void>((r) => {
      reachedHold = r;
    });
    const started = startNode(config, {
      beforeRaftStart: () => {
        reachedHold();
        return held;
      },
    });
    await atHold;
    const endpoint = { host: '127.0.0.1', port: client! };
    const opts = { ...endpoint, clientId: 'test', connectionTimeoutMs: 3000, requestTimeoutMs: 3000 };
    const refused = await Connection.connect(endpoint, opts).then(
      (c) => {
        void c.close();
        return undefined;
      },
      (err: { code?: string; retriable?: boolean; message?: string }) => err,
    );
    expect(refused?.code).toBe('BROKER_NOT_AVAILABLE');
    expect(refused?.retriable).toBe(true);
    expect(refused?.message).toContain('starting');

    release();
    node = await started;
    const conn = await Connection.connect(endpoint, opts);
    try {
      expect(conn.hello?.clusterId).toBe(clusterId);
    } finally {
      await conn.close();
    }
  });
});
