/**
 * The messages the benchmark orchestrator and its node processes exchange over the fork IPC channel.
 * Timestamps (`at`) are `performance.timeOrigin + performance.now()`: wall-clock milliseconds with
 * sub-millisecond resolution, comparable between processes on one machine.
 */
import type { Role } from '../core/types.js';
import type { LatencySummary } from './stats.js';

/** Raft timing the bench passes to every node; absent keys keep RAFT_DEFAULTS. */
export interface TimingOverrides {
  tickMs?: number;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

/** What a node process is started with (JSON in argv[2]). */
export interface NodeInit {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  readonly voters: string;
  readonly timing: TimingOverrides;
}

export interface LoadRequest {
  readonly op: 'load';
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly payloadBytes: number;
}

export type Request =
  | { readonly op: 'status' }
  | LoadRequest
  /** Keep proposing a small probe entry (each with `timeoutMs`) until one commits; report it once. */
  | { readonly op: 'probe-start'; readonly timeoutMs: number }
  | { readonly op: 'probe-stop' }
  | { readonly op: 'stop' };

export interface NodeStatusReply {
  readonly nodeId: number;
  readonly pid: number;
  readonly role: Role;
  readonly term: number;
  readonly leaderId: number;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly snapshotIndex: number;
  /** Entries the state machine has counted (restored from a snapshot plus applied since). */
  readonly counted: number;
  /** process.cpuUsage() in microseconds. */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

export interface LoadResult {
  readonly concurrency: number;
  /** The measured window (after the warm-up). */
  readonly windowMs: number;
  readonly commits: number;
  readonly commitsPerSec: number;
  readonly errors: number;
  readonly errorKinds: Record<string, number>;
  /** Latency of proposals started and committed inside the window, in milliseconds. */
  readonly latencyMs: LatencySummary;
  readonly termBefore: number;
  readonly termAfter: number;
  /** The leader process's CPU time during the window, as a percentage of one core. */
  readonly cpuPct: number;
  /** Commits completed in each consecutive `timelineBucketMs` of the window (shows stalls). */
  readonly timeline: readonly number[];
  readonly timelineBucketMs: number;
  /** Snapshot index on the leader before and after the load (a change means a snapshot was taken). */
  readonly snapshotIndexBefore: number;
  readonly snapshotIndexAfter: number;
}

export type ParentMessage = { readonly kind: 'req'; readonly id: number; readonly req: Request };

export type ChildMessage =
  | { readonly kind: 'ready'; readonly nodeId: number; readonly pid: number }
  | { readonly kind: 'res'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly kind: 'res'; readonly id: number; readonly ok: false; readonly error: string }
  | {
      readonly kind: 'leader-change';
      readonly at: number;
      readonly leaderId: number;
      readonly term: number;
      readonly role: Role;
    }
  | {
      readonly kind: 'probe-commit';
      readonly at: number;
      readonly index: number;
      readonly term: number;
      readonly attempts: number;
    }
  | { readonly kind: 'fatal'; readonly error: string };

/** Wall-clock milliseconds, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
