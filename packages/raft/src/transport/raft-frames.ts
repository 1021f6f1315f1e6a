/**
 * Checks what a peer sent before the driver acts on it. The transport hands over whatever msgpack
 * value arrived in a `msg` frame; a value of the wrong shape (a bug, a newer or foreign
 * implementation, or a hostile peer that passed the handshake) must not reach the Raft core, whose
 * invariant checks would stop the node. Every problem is a `MalformedRaftFrameError`.
 */
import {
  type Entry,
  EntryKind,
  type Membership,
  type Message,
  MessageType,
  type SnapshotMeta,
} from '../core/types.js';
import type { RaftFrame } from '../driver.js';

/** A peer's frame that is not a well-formed Raft frame. */
export class MalformedRaftFrameError extends Error {
  override readonly name = 'MalformedRaftFrameError';
  readonly code = 'MALFORMED_RAFT_FRAME' as const;
}

/** Members a membership may list; far above any real quorum, it bounds the work per frame. */
const MAX_MEMBERS = 1024;
const MESSAGE_TYPES: ReadonlySet<unknown> = new Set(Object.values(MessageType));

/** Names a value for an error message without calling anything on it (a hostile map may define `toString`). */
function show(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return `${value}`;
  return `a ${Array.isArray(value) ? 'array' : typeof value}`;
}

function fail(message: string): never {
  throw new MalformedRaftFrameError(message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-negative safe integer (index, term, sequence number). */
function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(`${what} must be a non-negative integer`);
  }
  return value;
}

function optionalCount(value: unknown, what: string): void {
  if (value !== undefined) count(value, what);
}

function nodeId(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(`${what} must be a positive integer`);
  }
  return value;
}

function optionalBoolean(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== 'boolean') fail(`${what} must be a boolean`);
}

function checkMembership(value: unknown, what: string): Membership {
  if (!isRecord(value) || !Array.isArray(value.voters)) fail(`${what} must hold a voters array`);
  const voters = value.voters as unknown[];
  if (voters.length > MAX_MEMBERS) fail(`${what} lists ${voters.length} voters (at most ${MAX_MEMBERS})`);
  const ids = new Set<number>();
  for (const v of voters) {
    if (!isRecord(v)) fail(`${what}: a voter must be a map`);
    const id = nodeId(v.id, `${what}: voter id`);
    if (typeof v.address !== 'string' || v.address.length > 1024)
      fail(`${what}: voter ${id} needs a string address`);
    if (ids.has(id)) fail(`${what}: voter ${id} is listed twice`);
    ids.add(id);
  }
  return value as unknown as Membership;
}

function checkSnapshotMeta(value: unknown, what: string): SnapshotMeta {
  if (!isRecord(value)) fail(`${what} must be a map`);
  count(value.index, `${what}.index`);
  count(value.term, `${what}.term`);
  checkMembership(value.membership, `${what}.membership`);
  return value as unknown as SnapshotMeta;
}

function checkEntries(value: unknown, m: Record<string, unknown>): readonly Entry[] {
  if (!Array.isArray(value)) fail('Append entries must be an array');
  const prev = m.index;
  if (typeof prev !== 'number') fail('Append with entries needs an index');
  for (let i = 0; i < value.length; i++) {
    const e: unknown = value[i];
    if (!isRecord(e)) fail('an entry must be a map');
    // The core appends entries as a contiguous run after `index`: anything else is not a leader's.
    if (e.index !== prev + 1 + i) fail(`entry ${i} has index ${show(e.index)}, expected ${prev + 1 + i}`);
    const term = count(e.term, 'entry term');
    if (term > (m.term as number)) fail(`entry term ${term} is above the message term`);
    switch (e.kind) {
      case EntryKind.Normal:
        if (!(e.data instanceof Uint8Array)) fail('a normal entry needs binary data');
        break;
      case EntryKind.NoOp:
        break;
      case EntryKind.Membership:
        checkMembership(e.membership, 'membership entry');
        break;
      default:
        fail(`unknown entry kind ${show(e.kind)}`);
    }
  }
  return value as Entry[];
}

function checkMessage(value: unknown): Message {
  if (!isRecord(value)) fail('a raft message must be a map');
  if (!MESSAGE_TYPES.has(value.type)) fail(`unknown message type ${show(value.type)}`);
  nodeId(value.from, 'from');
  nodeId(value.to, 'to');
  count(value.term, 'term');
  optionalCount(value.index, 'index');
  optionalCount(value.logTerm, 'logTerm');
  optionalCount(value.commit, 'commit');
  optionalCount(value.hintIndex, 'hintIndex');
  optionalCount(value.hintTerm, 'hintTerm');
  optionalCount(value.context, 'context');
  optionalBoolean(value.reject, 'reject');
  optionalBoolean(value.transfer, 'transfer');
  optionalBoolean(value.commitOnly, 'commitOnly');
  if (value.leader !== undefined && value.leader !== 0) nodeId(value.leader, 'leader');
  if (value.entries !== undefined) checkEntries(value.entries, value);
  if (value.snapshot !== undefined) checkSnapshotMeta(value.snapshot, 'snapshot');
  if (value.type === MessageType.Snapshot && value.snapshot === undefined)
    fail('a Snapshot message needs its snapshot');
  return value as unknown as Message;
}

/**
 * Returns `value` typed as a RaftFrame when it has the shape of one, else throws
 * `MalformedRaftFrameError`. Work is linear in the size of the value.
 */
export function decodeRaftFrame(value: unknown): RaftFrame {
  if (!isRecord(value)) fail('a raft frame must be a map');
  switch (value.k) {
    case 'raft':
      checkMessage(value.m);
      return value as unknown as RaftFrame;
    case 'snap':
      checkSnapshotMeta(value.meta, 'snapshot chunk meta');
      count(value.seq, 'snapshot chunk seq');
      if (!(value.data instanceof Uint8Array)) fail('a snapshot chunk needs binary data');
      if (typeof value.last !== 'boolean') fail('a snapshot chunk needs a boolean last');
      return value as unknown as RaftFrame;
    case 'snap-abort':
      count(value.index, 'snap-abort index');
      return value as unknown as RaftFrame;
    default:
      return fail(`unknown raft frame kind ${show(value.k)}`);
  }
}
