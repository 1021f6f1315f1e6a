import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RaftNode, startRaftNode } from '@kbroker/raft';
import { freePorts, waitFor } from '@kbroker/raft/testing';

export { waitFor };

import { MetadataController } from '../../src/controller/metadata-controller.js';
import { replayBatch } from '../../src/replay.js';
import { MetadataStateMachine } from '../../src/state-machine.js';

export interface ControllerNode {
  id: number;
  raft?: RaftNode;
  sm: MetadataStateMachine;
  controller?: MetadataController;
}

/** Controller quorum nodes: Raft over TCP + LevelDB, the metadata state machine, and a controller each. */
export class ControllerCluster {
  readonly nodes: ControllerNode[] = [];
  /** The controllers' clock; tests move it to expire broker sessions. */
  nowMs = 1_700_000_000_000;
  private root = '';
  private quorum = '';

  constructor(
    private readonly size: number,
    private readonly controllerOpts: Record<string, number> = {},
  ) {}

  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'kbroker-ctrl-'));
    const ports = await freePorts(this.size);
    this.quorum = ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    for (let id = 1; id <= this.size; id++) this.nodes.push({ id, sm: new MetadataStateMachine() });
    await Promise.all(this.nodes.map((n) => this.startNode(n.id)));
  }

  async startNode(id: number): Promise<void> {
    const n = this.nodes[id - 1]!;
    n.sm = new MetadataStateMachine();
    n.raft = await startRaftNode({
      nodeId: id,
      clusterId: 'ctrl-test',
      dataDir: join(this.root, `n${id}`),
      formatIfEmpty: true,
      voters: this.quorum,
      stateMachine: n.sm,
      // Loaded test machines: keep spurious elections out of tests that are not about them.
      electionTimeoutMs: 1000,
      heartbeatIntervalMs: 100,
    });
    n.controller = new MetadataController({
      raft: n.raft,
      committed: n.sm,
      replay: replayBatch,
      clusterId: 'ctrl-test',
      features: new Map([['metadata.version', 1]]),
      nowMs: () => this.nowMs,
      controllerEndpoints: [
        { name: 'CLIENT', host: '127.0.0.1', port: 19_000 + id, securityProtocol: 'PLAINTEXT' },
      ],
      ...this.controllerOpts,
    });
  }

  async killNode(id: number): Promise<void> {
    const n = this.nodes[id - 1]!;
    n.controller?.close();
    await n.raft?.stop(false);
    n.raft = undefined;
    n.controller = undefined;
  }

  running(): ControllerNode[] {
    return this.nodes.filter((n) => n.raft !== undefined);
  }

  async active(): Promise<MetadataController> {
    let found: MetadataController | undefined;
    await waitFor(() => {
      found = this.running().find((n) => n.controller?.isActive())?.controller;
      return found !== undefined;
    }, 'an active controller');
    return found!;
  }

  /** Waits until every running node has applied the same offset, then returns their images. */
  async converged() {
    await waitFor(() => {
      const offsets = this.running().map((n) => n.sm.image.provenance.offset);
      const commit = Math.max(...this.running().map((n) => n.raft!.status().commitIndex));
      return offsets.every((o) => o === offsets[0]) && offsets[0]! >= commit;
    }, 'nodes to converge');
    return this.running().map((n) => n.sm.image);
  }

  async stop(): Promise<void> {
    for (const n of this.running()) await this.killNode(n.id);
    await rm(this.root, { recursive: true, force: true });
  }
}
