import { type Logger, pino } from 'pino';
import type { MetadataImageView } from '../image/types.js';
import { encodeBatch, type MetadataRecord, type RecordBatch, RecordType } from '../records.js';
import { ControllerError } from './errors.js';

/** The part of a Raft node the controller needs (RaftNode satisfies it). */
export interface ControllerRaft {
  readonly id: number;
  /**
   * Resolves with the entry's index once committed and applied to the local state machine;
   * `onAccepted` learns the index as soon as the leader appended the entry.
   */
  propose(
    data: Uint8Array,
    timeoutMs?: number,
    options?: { onAccepted?: (index: number, term: number) => void },
  ): Promise<number>;
  /** Resolves once this leader confirmed its leadership and applied everything committed before. */
  readIndex(timeoutMs?: number): Promise<number>;
  status(): { readonly role: string; readonly leaderId: number; readonly term: number };
  on(
    event: 'leader-change',
    listener: (change: { leaderId: number; term: number; role: string }) => void,
  ): unknown;
  off(
    event: 'leader-change',
    listener: (change: { leaderId: number; term: number; role: string }) => void,
  ): unknown;
}

/** The committed image, as the local state machine has applied it. */
export interface CommittedImageSource {
  readonly image: MetadataImageView;
}

/** Applies a batch to an image (the metadata delta), for speculation ahead of commit. */
export type BatchReplayer = (
  image: MetadataImageView,
  batch: RecordBatch,
  offset: number,
  epoch: number,
) => MetadataImageView;

/**
 * What a handler returns: the records to append atomically, and the response. A response that depends
 * on where the records land (a broker epoch is its registration's offset) is computed after commit
 * from the committed image and the batch's offset.
 */
export interface ControllerResult<R> {
  readonly records: readonly MetadataRecord[];
  readonly response: R | ((committed: MetadataImageView, offset: number) => R);
  /**
   * Whether the records must land in one batch (default true). A non-atomic result (fencing a broker,
   * an election: one independent change per partition, the broker's own record last) larger than
   * `maxRecordsPerBatch` is appended as several consecutive batches, as Kafka's QuorumController does:
   * a cluster of 250,000 partitions fences a broker with 250,000 records, and one batch of them would
   * hold the leader's event loop (encode, replicate, apply) past the election timeout.
   */
  readonly atomic?: boolean;
}

export interface QuorumControllerOptions {
  readonly raft: ControllerRaft;
  readonly committed: CommittedImageSource;
  readonly replay: BatchReplayer;
  readonly nowMs?: () => number;
  readonly logger?: Logger;
  /** Timeout of one proposal. */
  readonly writeTimeoutMs?: number;
  /** The most records in one batch of a non-atomic result (Kafka's default: 10,000). */
  readonly maxRecordsPerBatch?: number;
  /**
   * Resolves after other work had a turn (default: the next `setImmediate`); awaited between the
   * batches of a split result so Raft heartbeats and applies run meanwhile.
   */
  readonly yieldTurn?: () => Promise<void>;
}

const DEFAULT_MAX_RECORDS_PER_BATCH = 10_000;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Pending {
  /** What the speculative image replays of the proposed batch (see {@link speculated}). */
  readonly batch: RecordBatch;
  /** The batch's log index once the leader appended it. */
  index?: number;
  /** Settles (never rejects) when the proposal is committed, failed or timed out. */
  done?: Promise<void>;
}

/**
 * Runs controller operations on the Raft leader (Kafka's QuorumController).
 *
 * Operations run one at a time from a single queue. Each handler is pure: it reads an image and returns
 * records plus a response; state changes only when the committed records are replayed by the state
 * machine, the same code on every node. To pipeline writes, handlers read a *speculative* image: the
 * committed image with every proposed-but-uncommitted batch replayed on top, so an operation sees the
 * effects of the ones queued before it. Any doubt about what was committed (a lost leadership, a timed
 * out proposal) drops the speculation and rebuilds it from the committed image once in-flight
 * proposals settle.
 *
 * The controller is active only while this node leads and has applied everything committed before its
 * term (KRaft replays the whole log before a new controller acts).
 */
export class QuorumController {
  private readonly raft: ControllerRaft;
  private readonly committed: CommittedImageSource;
  private readonly replay: BatchReplayer;
  private readonly nowMs: () => number;
  private readonly log: Logger;
  private readonly writeTimeoutMs: number;
  private readonly maxRecordsPerBatch: number;
  private readonly yieldTurn: () => Promise<void>;

  private active = false;
  private activeTerm = -1;
  private activating: Promise<void> | undefined;
  private activationToken: symbol | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending[] = [];
  private speculative: MetadataImageView | undefined;
  /** Set when speculation may be wrong; ops wait until in-flight proposals settle, then rebuild. */
  private settling: Promise<void> | undefined;
  private readonly activationListeners = new Set<(active: boolean) => void>();
  /** Whether a batch of offset commits alone is proposed and not yet settled. */
  private offsetsInFlight = false;
  /** Offset commits gathered for the next batch (see proposeOffsets). */
  private gathered:
    | {
        readonly name: string;
        readonly timestampMs: number;
        readonly records: MetadataRecord[];
        /** An upper bound of the records' encoded size (see recordBytes). */
        bytes: number;
        readonly committed: Promise<number>;
        readonly settle: { resolve: (offset: number) => void; reject: (err: unknown) => void };
      }
    | undefined;
  private readonly onLeaderChange = (change: { leaderId: number; term: number; role: string }) =>
    this.leaderChanged(change.role === 'leader', change.term);

  constructor(opts: QuorumControllerOptions) {
    this.raft = opts.raft;
    this.committed = opts.committed;
    this.replay = opts.replay;
    this.nowMs = opts.nowMs ?? Date.now;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'controller' });
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 10_000;
    this.maxRecordsPerBatch = Math.max(1, opts.maxRecordsPerBatch ?? DEFAULT_MAX_RECORDS_PER_BATCH);
    this.yieldTurn = opts.yieldTurn ?? nextTurn;
    this.raft.on('leader-change', this.onLeaderChange);
    const s = this.raft.status();
    if (s.role === 'leader') this.leaderChanged(true, s.term);
  }

  isActive(): boolean {
    return this.active;
  }

  /** The term this controller is active in (the controller epoch), or -1. */
  epoch(): number {
    return this.active ? this.activeTerm : -1;
  }

  /** Calls `listener(active)` whenever this node becomes or stops being the active controller. */
  onActivation(listener: (active: boolean) => void): () => void {
    this.activationListeners.add(listener);
    return () => this.activationListeners.delete(listener);
  }

  /** Resolves once this node is the active controller (or rejects after `timeoutMs`). */
  async waitForActive(timeoutMs = 10_000): Promise<void> {
    if (this.active) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(this.notController());
      }, timeoutMs);
      const off = this.onActivation((active) => {
        if (!active) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /**
   * Runs `handler` on the current (speculative) image, appends its records, and resolves with its
   * response once they are committed and applied here. A handler with no records is a read of the
   * speculative state and resolves at once.
   */
  run<R>(
    name: string,
    handler: (image: MetadataImageView, nowMs: number) => ControllerResult<R>,
  ): Promise<R> {
    const result = this.queue.then(() => this.runNow(name, handler));
    // The queue only orders operations; one failing does not stop the next.
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result.then((settle) => settle());
  }

  close(): void {
    this.raft.off('leader-change', this.onLeaderChange);
    this.deactivate();
  }

  // ---------------------------------------------------------------------------------------------

  /** Evaluates the handler and proposes; returns a function awaiting the commit (so the queue moves on). */
  private async runNow<R>(
    name: string,
    handler: (image: MetadataImageView, nowMs: number) => ControllerResult<R>,
  ): Promise<() => Promise<R>> {
    if (this.settling !== undefined) await this.settling;
    if (!this.active || this.speculative === undefined) throw this.notController();
    const now = this.nowMs();
    const result = handler(this.speculative, now);
    if (result.records.length === 0) {
      const response = result.response;
      const image = this.speculative;
      return async () =>
        typeof response === 'function'
          ? (response as (c: MetadataImageView, o: number) => R)(image, image.provenance.offset)
          : response;
    }
    const respond = (offset: number): R => {
      const response = result.response;
      return typeof response === 'function'
        ? (response as (c: MetadataImageView, o: number) => R)(this.committed.image, offset)
        : response;
    };
    if (offsetsOnly(result.records)) {
      const committed = this.proposeOffsets(name, result.records, now).then(respond);
      return () => committed;
    }
    // A batch of offset commits waiting goes first: the log keeps the order of the queue.
    this.flushOffsets();
    if (result.atomic === false && result.records.length > this.maxRecordsPerBatch) {
      const { committed } = await this.proposeSplit(name, result.records, now);
      return () => committed.then(respond);
    }
    const committed = this.propose(name, { timestampMs: now, records: result.records }).then(respond);
    return () => committed;
  }

  /**
   * Proposes `records` as consecutive batches of at most maxRecordsPerBatch, giving other work a turn
   * between them; holds the queue meanwhile, so no other operation lands between them (offset commits
   * may: they touch no record of these). Resolves once all are proposed, with a promise of the last
   * one's offset. If leadership or speculation is lost part way, the rest is not proposed and the
   * promise rejects: the batches already proposed may still commit, which a non-atomic result allows
   * (each is a valid change on its own; the next controller recomputes what is left).
   */
  private async proposeSplit(
    name: string,
    records: readonly MetadataRecord[],
    now: number,
  ): Promise<{ committed: Promise<number> }> {
    const proposed: Promise<number>[] = [];
    this.log.info(
      { op: name, records: records.length, batches: Math.ceil(records.length / this.maxRecordsPerBatch) },
      'appending a large non-atomic result in batches',
    );
    for (let from = 0; from < records.length; from += this.maxRecordsPerBatch) {
      if (from > 0) {
        await this.yieldTurn();
        if (!this.active || this.speculative === undefined || this.settling !== undefined) {
          const stopped = Promise.all(proposed).then(() => {
            throw this.notController();
          });
          // Whoever awaits the result sees the rejection; the batches' own failures are logged.
          stopped.catch(() => undefined);
          return { committed: stopped };
        }
      }
      const batch = records.slice(from, from + this.maxRecordsPerBatch);
      const p = this.propose(name, { timestampMs: now, records: batch });
      p.catch(() => undefined);
      proposed.push(p);
    }
    return { committed: Promise.all(proposed).then((offsets) => offsets[offsets.length - 1]!) };
  }

  /**
   * Appends `batch` (speculated first, so the next operation in the queue sees its effects); resolves
   * with its offset once committed and applied here.
   */
  private propose(name: string, batch: RecordBatch): Promise<number> {
    const provisionalOffset = this.speculative!.provenance.offset + 1;
    const shown = speculated(batch);
    this.speculative = this.replay(this.speculative!, shown, provisionalOffset, this.activeTerm);
    const entry: Pending = { batch: shown };
    this.pending.push(entry);
    const term = this.activeTerm;
    const proposal = this.raft.propose(encodeBatch(batch), this.writeTimeoutMs, {
      onAccepted: (index) => {
        entry.index = index;
      },
    });
    entry.done = proposal.then(
      () => undefined,
      () => undefined,
    );
    return proposal.then(
      (offset) => {
        this.settled(entry);
        return offset;
      },
      (err: unknown) => {
        this.settled(entry);
        this.log.warn(
          { err, op: name, term },
          'controller write failed; rebuilding from the committed image',
        );
        this.invalidateSpeculation();
        throw toControllerError(err, this.raft.status().leaderId);
      },
    );
  }

  /**
   * Offset commits group-commit here too: while a batch of them is on its way through Raft, the next
   * ones gather into one batch, proposed when it settles (or before any other write, or once it
   * would outgrow MAX_GATHERED_OFFSET_BYTES). Each node sends its own calls, so without this every call
   * is a Raft round (an Append and an fsync per replica, an apply per node) however close together
   * they come; with it, calls arriving during a round share the next one. A lone call waits for nothing.
   */
  private proposeOffsets(name: string, records: readonly MetadataRecord[], now: number): Promise<number> {
    if (!this.offsetsInFlight) return this.proposeInFlight(name, { timestampMs: now, records });
    let g = this.gathered;
    const bytes = recordBytes(records);
    if (g !== undefined && g.bytes + bytes > MAX_GATHERED_OFFSET_BYTES) {
      this.flushOffsets();
      g = undefined;
    }
    if (g === undefined) {
      let settle!: { resolve: (offset: number) => void; reject: (err: unknown) => void };
      const committed = new Promise<number>((resolve, reject) => {
        settle = { resolve, reject };
      });
      g = { name, timestampMs: now, records: [], bytes: 0, committed, settle };
      this.gathered = g;
    }
    g.records.push(...records);
    g.bytes += bytes;
    return g.committed;
  }

  /** Proposes the gathered offset commits, if any (they then are the batch in flight). */
  private flushOffsets(): void {
    const g = this.gathered;
    if (g === undefined) return;
    this.gathered = undefined;
    if (!this.active || this.speculative === undefined) {
      g.settle.reject(this.notController());
      return;
    }
    try {
      this.proposeInFlight(g.name, { timestampMs: g.timestampMs, records: g.records }).then(
        g.settle.resolve,
        g.settle.reject,
      );
    } catch (err) {
      // Runs from a settling proposal's callback too: whatever fails belongs to the gathered callers.
      g.settle.reject(err);
    }
  }

  /** Proposes a batch of offset commits as the one in flight; once it settles, the gathered ones go. */
  private proposeInFlight(name: string, batch: RecordBatch): Promise<number> {
    this.offsetsInFlight = true;
    const proposal = this.propose(name, batch);
    const next = () => {
      this.offsetsInFlight = false;
      this.flushOffsets();
    };
    proposal.then(next, next);
    return proposal;
  }

  /** A proposal settled (committed, failed or timed out): it no longer needs replaying on top. */
  private settled(entry: Pending): void {
    const i = this.pending.indexOf(entry);
    if (i >= 0) this.pending.splice(i, 1);
    if (this.settling === undefined && this.active) this.rebase();
  }

  /**
   * Rebuilds the speculative image as committed + still-pending batches. Cheap: only in-flight batches
   * are replayed, and it makes offset-dependent values (broker epochs) exact once committed.
   */
  private rebase(): void {
    let image = this.committed.image;
    const committedOffset = image.provenance.offset;
    let offset = committedOffset;
    try {
      for (const p of this.pending) {
        // Several batches commit in one apply, and their promises settle one after another: a batch
        // still pending here may already be in the committed image, and must not be replayed twice.
        if (p.index !== undefined && p.index <= committedOffset) continue;
        offset = p.index ?? offset + 1;
        image = this.replay(image, p.batch, offset, this.activeTerm);
      }
      this.speculative = image;
    } catch (err) {
      // Speculation is only an optimisation: when it cannot be rebuilt, trust the log alone.
      this.log.warn({ err }, 'could not rebase the speculative image');
      this.invalidateSpeculation();
    }
  }

  private invalidateSpeculation(): void {
    if (this.settling !== undefined) return;
    const inFlight = this.pending.length;
    this.settling = (async () => {
      // Wait for every in-flight proposal to settle one way or the other, then trust only the log.
      while (this.pending.length > 0) await Promise.all(this.pending.map((p) => p.done));
      this.settling = undefined;
      if (this.active) this.rebase();
      this.log.info({ inFlight }, 'speculative state rebuilt');
    })();
  }

  private leaderChanged(isLeader: boolean, term: number): void {
    if (!isLeader) {
      if (this.active || this.activating) this.deactivate();
      return;
    }
    if ((this.active || this.activating) && term === this.activeTerm) return;
    this.deactivate();
    this.activeTerm = term;
    const token = Symbol('activation');
    this.activationToken = token;
    this.activating = this.activate(term, token);
  }

  private async activate(term: number, token: symbol): Promise<void> {
    try {
      // Apply everything committed before our term before acting on it.
      await this.raft.readIndex(this.writeTimeoutMs);
    } catch (err) {
      this.log.warn({ err, term }, 'could not activate as controller');
      if (this.activationToken === token) this.activating = undefined;
      return;
    }
    const s = this.raft.status();
    if (this.activationToken !== token || s.term !== term || s.role !== 'leader') return;
    this.activating = undefined;
    this.pending = [];
    this.speculative = this.committed.image;
    this.active = true;
    this.log.info({ term, offset: this.committed.image.provenance.offset }, 'active controller');
    for (const l of this.activationListeners) l(true);
  }

  private deactivate(): void {
    const was = this.active;
    this.active = false;
    this.activating = undefined;
    this.activationToken = undefined;
    this.speculative = undefined;
    // Gathered offset commits were never proposed: refused, so their callers retry elsewhere.
    this.flushOffsets();
    if (was) {
      this.log.info({ term: this.activeTerm }, 'no longer the active controller');
      for (const l of this.activationListeners) l(false);
    }
  }

  private notController(): ControllerError {
    const leaderId = this.raft.status().leaderId;
    return new ControllerError(
      'NOT_CONTROLLER',
      leaderId > 0 && leaderId !== this.raft.id
        ? `this node is not the active controller; node ${leaderId} is`
        : 'this node is not the active controller',
      { leaderId },
    );
  }
}

/**
 * What speculation replays of a proposed batch: all of it, except a batch of offset commits alone,
 * which only moves the offset. No handler decides anything on a commit not yet committed (a commit's
 * validity depends on topics only; deleteOffsets concurrent with a commit still in flight may order
 * before it, as it could anyway), and offset commits are the hot path: replaying each one again on the
 * leader for every rebase while it is in flight cost more than committing it.
 */
function speculated(batch: RecordBatch): RecordBatch {
  return offsetsOnly(batch.records) ? { timestampMs: batch.timestampMs, records: [] } : batch;
}

function offsetsOnly(records: readonly MetadataRecord[]): boolean {
  for (const r of records) if (r.type !== RecordType.OffsetCommit) return false;
  return records.length > 0;
}

/**
 * Most bytes of offset commits gathered into one batch: a Raft entry travels whole in one Append, so
 * gathering must never build one near the transport's frame limit (an op's own batch is bounded by
 * the request that carried it). Raft's default bytes per Append.
 */
const MAX_GATHERED_OFFSET_BYTES = 1024 * 1024;

/** An upper bound of offset-commit records' encoded size: strings at 3 bytes a UTF-16 unit, 64 for the rest. */
function recordBytes(records: readonly MetadataRecord[]): number {
  let n = 0;
  for (const r of records) {
    const c = r as { groupId?: string; topic?: string; metadata?: string };
    n += 64 + 3 * ((c.groupId?.length ?? 0) + (c.topic?.length ?? 0) + (c.metadata?.length ?? 0));
  }
  return n;
}

function toControllerError(err: unknown, leaderId: number): ControllerError {
  if (err instanceof ControllerError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'NOT_LEADER' || code === 'PROPOSAL_DROPPED' || code === 'NODE_STOPPED') {
    return new ControllerError('NOT_CONTROLLER', `the write did not commit: ${(err as Error).message}`, {
      leaderId,
    });
  }
  if (code === 'LEADERSHIP_LOST') {
    // Outcome unknown (the next leader may commit it): NOT_CONTROLLER sends the client to the new
    // controller, and the client repeats only requests that are safe to repeat.
    return new ControllerError('NOT_CONTROLLER', `the outcome is unknown: ${(err as Error).message}`, {
      leaderId,
    });
  }
  if (code === 'REQUEST_TIMED_OUT') {
    return new ControllerError('REQUEST_TIMED_OUT', `the write timed out: ${(err as Error).message}`);
  }
  return new ControllerError('UNKNOWN_SERVER_ERROR', `the write failed: ${(err as Error).message}`);
}
