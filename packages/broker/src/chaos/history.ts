/**
 * What a chaos run records: every invocation of the workload with its timestamps and outcome, the fault
 * schedule as it was applied, and the final state read from every node. Saved as JSON for replay.
 */
import type { Fault } from './schedule.js';

/**
 * ok: the cluster acknowledged it. fail: it certainly did not take effect (no request was sent, or the
 * answer says nothing was done). unknown: it may or may not have taken effect (timed out, connection
 * lost after sending, an error the write may have raced): never counted as failed.
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

interface OpBase {
  readonly id: number;
  readonly worker: number;
  /** ms since the run started (one monotonic clock for every worker). */
  readonly call: number;
  ret: number | null;
  outcome: Outcome | null;
  error?: string;
}

/** A commit of a unique value to one register (group/partition). */
export interface WriteOp extends OpBase {
  readonly kind: 'write';
  readonly key: number;
  readonly value: number;
}

/** A linearizable fetch of every register: `values[key]`, absent for a key never committed. */
export interface ReadOp extends OpBase {
  readonly kind: 'read';
  values?: Record<string, number>;
}

export interface CreateTopicOp extends OpBase {
  readonly kind: 'create';
  readonly topic: string;
  result?: 'created' | 'exists';
}

export interface DeleteTopicOp extends OpBase {
  readonly kind: 'delete';
  readonly topic: string;
  result?: 'deleted' | 'missing';
}

/** A linearizable topic listing. */
export interface ListTopicsOp extends OpBase {
  readonly kind: 'list';
  topics?: string[];
}

export type HistoryOp = WriteOp | ReadOp | CreateTopicOp | DeleteTopicOp | ListTopicsOp;

/** One line of the fault log: a fault started or healed, as applied. */
export interface FaultEvent {
  readonly at: number;
  readonly index: number;
  readonly phase: 'start' | 'heal';
  readonly kind: string;
  /** The nodes it hit (the leader resolved). */
  readonly nodes: readonly number[];
  readonly text: string;
}

/** What one node answered after the run: its image's offset and digest, its registers and topics. */
export interface FinalNodeState {
  readonly node: number;
  readonly offset: number;
  readonly digest: string;
  readonly values: Record<string, number>;
  readonly topics: readonly string[];
}

export interface RunRecord {
  readonly version: 1;
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly keys: number;
  readonly topicNames: readonly string[];
  readonly schedule: readonly Fault[];
  readonly faultLog: FaultEvent[];
  history: HistoryOp[];
  /** When the faults stopped and everything was healed (ms since start). */
  healedAt: number;
  /** How long after healing a write and a linearizable read first succeeded (null: never). */
  recoveryMs: number | null;
  readonly recoveryBoundMs: number;
  /** ms since start when the final reads were taken. */
  finalAt: number;
  /** Per node; empty when the nodes never converged. */
  final: FinalNodeState[];
  /** Why the final state could not be read, if it could not. */
  finalError?: string;
}
