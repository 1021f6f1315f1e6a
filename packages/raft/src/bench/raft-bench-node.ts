/**
 * One Raft voter of the benchmark cluster, run as a child process by raft-bench.ts (child_process.fork).
 * argv[2] is the NodeInit as JSON; commands arrive over the IPC channel (see protocol.ts).
 * The process exits when the orchestrator disconnects, so it never outlives it.
 */
import { randomBytes } from 'node:crypto';
import type { Entry, SnapshotMeta } from '../core/types.js';
import type { RaftNode } from '../driver.js';
import { startRaftNode } from '../node.js';
import type { StateMachine } from '../ports.js';
import {
  type ChildMessage,
  type LoadRequest,
  type LoadResult,
  type NodeInit,
  type NodeStatusReply,
  nowMs,
  type ParentMessage,
  type Request,
  sleep,
} from './protocol.js';
import { LatencyRecorder } from './stats.js';

const TIMELINE_BUCKET_MS = 100;

/** Counts applied entries; the snapshot is the count. */
class CountingStateMachine implements StateMachine {
  count = 0;
  apply(entries: readonly Entry[]): void {
    this.count += entries.length;
  }
  snapshot(): Iterable<Uint8Array> {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64BE(BigInt(this.count));
    return [buf];
  }
  async restore(_meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    const buf = Buffer.concat(parts);
    this.count = buf.length >= 8 ? Number(buf.readBigUInt64BE(0)) : 0;
  }
}

function send(msg: ChildMessage): void {
  if (process.connected) process.send?.(msg);
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('raft-bench-node must be started by raft-bench (fork)');
  const init = JSON.parse(process.argv[2] ?? '') as NodeInit;
  const sm = new CountingStateMachine();
  const node = await startRaftNode({
    nodeId: init.nodeId,
    clusterId: init.clusterId,
    dataDir: init.dataDir,
    formatIfEmpty: true,
    voters: init.voters,
    stateMachine: sm,
    ...init.timing,
  });
  node.on('leader-change', (c: { leaderId: number; term: number; role: 'leader' | 'follower' }) =>
    send({ kind: 'leader-change', at: nowMs(), leaderId: c.leaderId, term: c.term, role: c.role }),
  );
  node.on('error', (err: unknown) => {
    send({ kind: 'fatal', error: errorText(err) });
    process.exit(1);
  });
  const probe = new Probe(node);

  const status = (): NodeStatusReply => {
    const s = node.status();
    const cpu = process.cpuUsage();
    return {
      nodeId: s.nodeId,
      pid: process.pid,
      role: s.role,
      term: s.term,
      leaderId: s.leaderId,
      commitIndex: s.commitIndex,
      lastApplied: s.lastApplied,
      lastIndex: s.lastIndex,
      firstIndex: s.firstIndex,
      snapshotIndex: s.snapshotIndex,
      counted: sm.count,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
    };
  };

  const handle = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'status':
        return status();
      case 'load':
        return runLoad(node, req);
      case 'probe-start':
        probe.start(req.timeoutMs);
        return undefined;
      case 'probe-stop':
        probe.stop();
        return undefined;
      case 'stop':
        probe.stop();
        await node.stop(false);
        setImmediate(() => process.exit(0));
        return undefined;
    }
  };

  process.on('message', (raw: ParentMessage) => {
    if (raw?.kind !== 'req') return;
    handle(raw.req).then(
      (result) => send({ kind: 'res', id: raw.id, ok: true, result }),
      (err: unknown) => send({ kind: 'res', id: raw.id, ok: false, error: errorText(err) }),
    );
  });
  // The orchestrator is gone (finished, crashed or killed): never linger.
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready', nodeId: init.nodeId, pid: process.pid });
}

/**
 * `concurrency` proposers, each looping `await node.propose(payload)`, for a warm-up and then a
 * measured window. Commits are counted when they complete inside the window; latency is recorded for
 * proposals both started and completed inside it.
 */
async function runLoad(node: RaftNode, req: LoadRequest): Promise<LoadResult> {
  const payload = new Uint8Array(randomBytes(req.payloadBytes));
  const latency = new LatencyRecorder();
  const errorKinds: Record<string, number> = {};
  let commits = 0;
  let errors = 0;
  const termBefore = node.status().term;
  const snapshotIndexBefore = node.status().snapshotIndex;
  const bucketMs = TIMELINE_BUCKET_MS;
  const timeline = new Array<number>(Math.ceil(req.durationMs / bucketMs)).fill(0);
  const start = performance.now();
  const windowStart = start + req.warmupMs;
  const windowEnd = windowStart + req.durationMs;
  let cpuAtWindowStart: NodeJS.CpuUsage | undefined;
  const cpuTimer = setTimeout(() => {
    cpuAtWindowStart = process.cpuUsage();
  }, req.warmupMs);

  const proposer = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= windowEnd) return;
      try {
        await node.propose(payload);
        const t1 = performance.now();
        if (t1 >= windowStart && t1 <= windowEnd) {
          commits++;
          const b = Math.min(timeline.length - 1, Math.floor((t1 - windowStart) / bucketMs));
          timeline[b] = (timeline[b] ?? 0) + 1;
          if (t0 >= windowStart) latency.recordMs(t1 - t0);
        }
      } catch (err) {
        errors++;
        const name = err instanceof Error ? err.name : 'unknown';
        errorKinds[name] = (errorKinds[name] ?? 0) + 1;
        // Not leader any more, overloaded or stopped: back off a little rather than spin.
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, proposer));
  clearTimeout(cpuTimer);
  const cpu = process.cpuUsage(cpuAtWindowStart);
  const cpuPct = cpuAtWindowStart === undefined ? 0 : ((cpu.user + cpu.system) / 1000 / req.durationMs) * 100;
  return {
    concurrency: req.concurrency,
    windowMs: req.durationMs,
    commits,
    commitsPerSec: Math.round((commits / req.durationMs) * 1000),
    errors,
    errorKinds,
    latencyMs: latency.summary(),
    termBefore,
    termAfter: node.status().term,
    cpuPct: Math.round(cpuPct),
    timeline,
    timelineBucketMs: bucketMs,
    snapshotIndexBefore,
    snapshotIndexAfter: node.status().snapshotIndex,
  };
}

/**
 * After a leader is killed, each survivor proposes a probe entry in a loop (short timeout each) while it
 * is leader, and reports the moment the first one committed.
 */
class Probe {
  private generation = 0;
  private readonly payload = new Uint8Array(16);

  constructor(private readonly node: RaftNode) {}

  start(timeoutMs: number): void {
    const gen = ++this.generation;
    void this.run(gen, timeoutMs);
  }

  stop(): void {
    this.generation++;
  }

  private async run(gen: number, timeoutMs: number): Promise<void> {
    let attempts = 0;
    while (gen === this.generation) {
      if (this.node.status().role !== 'leader') {
        await this.leaderOrTimeout(5);
        continue;
      }
      attempts++;
      try {
        const index = await this.node.propose(this.payload, timeoutMs);
        const at = nowMs();
        if (gen !== this.generation) return;
        this.generation++;
        send({ kind: 'probe-commit', at, index, term: this.node.status().term, attempts });
        return;
      } catch {
        await sleep(1);
      }
    }
  }

  /** Resolves when this node becomes leader or after `ms`, whichever is first. */
  private leaderOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.node.off('leader-change', onChange);
        resolve();
      };
      const onChange = (c: { role: string }) => {
        if (c.role === 'leader') done();
      };
      const timer = setTimeout(done, ms);
      this.node.on('leader-change', onChange);
    });
  }
}

main().catch((err: unknown) => {
  send({ kind: 'fatal', error: errorText(err) });
  console.error(`raft-bench-node: ${errorText(err)}`);
  process.exit(1);
});
