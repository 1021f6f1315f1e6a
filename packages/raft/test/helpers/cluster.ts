import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { Entry, SnapshotMeta } from '../../src/core/types.js';
import type { RaftNode } from '../../src/driver.js';
import { startRaftNode } from '../../src/node.js';
import { freePorts, waitFor } from '../../src/sim/net-helpers.js';

export { freePorts, waitFor };

import type { StateMachine } from '../../src/ports.js';

/** A state machine that keeps every applied Normal payload, as text. */
export class ListStateMachine implements StateMachine {
  items: string[] = [];
  apply(entries: readonly Entry[]): void {
    for (const e of entries) if (e.kind === 0 && e.data) this.items.push(new TextDecoder().decode(e.data));
  }
  snapshot(): Iterable<Uint8Array> {
    const copy = [...this.items];
    // Split into several chunks so transfers exercise chunking.
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < copy.length || i === 0; i += 50) chunks.push(pack(copy.slice(i, i + 50)));
    return chunks;
  }
  async restore(_meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const items: string[] = [];
    for await (const c of chunks) items.push(...(unpack(c) as string[]));
    this.items = items;
  }
}

export interface TestNode {
  id: number;
  dir: string;
  node?: RaftNode;
  sm: ListStateMachine;
}

/** Three (or n) voters on loopback with LevelDB in temporary directories. */
export class TestCluster {
  nodes: TestNode[] = [];
  quorum = '';
  private root = '';

  constructor(
    private readonly size: number,
    private readonly tuning: Record<string, number> = {},
    readonly clusterId = 'test-cluster',
    private readonly makeStateMachine: () => ListStateMachine = () => new ListStateMachine(),
  ) {}

  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'kbroker-raft-'));
    const ports = await freePorts(this.size);
    this.quorum = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    for (let i = 1; i <= this.size; i++)
      this.nodes.push({ id: i, dir: join(this.root, `n${i}`), sm: this.makeStateMachine() });
    await Promise.all(this.nodes.map((n) => this.startNode(n.id)));
  }

  async startNode(id: number): Promise<RaftNode> {
    const n = this.nodes[id - 1]!;
    n.sm = this.makeStateMachine();
    n.node = await startRaftNode({
      nodeId: id,
      clusterId: this.clusterId,
      dataDir: n.dir,
      formatIfEmpty: true,
      voters: this.quorum,
      stateMachine: n.sm,
      // Test machines are shared and loaded: a 1 s election timeout keeps spurious leader changes out of
      // tests that are not about elections (they wait for conditions, so failovers only take longer).
      electionTimeoutMs: 1000,
      heartbeatIntervalMs: 100,
      ...this.tuning,
    });
    return n.node;
  }

  async stopNode(id: number, graceful = false): Promise<void> {
    const n = this.nodes[id - 1]!;
    await n.node?.stop(graceful);
    n.node = undefined;
  }

  running(): RaftNode[] {
    return this.nodes.flatMap((n) => (n.node ? [n.node] : []));
  }

  async leader(): Promise<RaftNode> {
    let found: RaftNode | undefined;
    await waitFor(() => {
      const leaders = this.running().filter((n) => n.status().role === 'leader');
      found = leaders.length === 1 ? leaders[0] : undefined;
      return found !== undefined;
    }, 'a single leader');
    return found!;
  }

  async stop(): Promise<void> {
    await Promise.all(this.running().map((n) => n.stop(false)));
    await rm(this.root, { recursive: true, force: true });
  }
}
