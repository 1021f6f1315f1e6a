import { type Message, MessageType, type NodeId } from '../core/types.js';
import type { Rng } from './rng.js';

/** How the simulated network treats each message. All randomness comes from the network's own stream. */
export interface NetworkConfig {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  dupRate: number;
  /**
   * When true each message's latency is drawn independently, so messages on one link overtake each
   * other. When false links are FIFO (the Transport port's promise): a message never arrives before one
   * sent earlier on the same link.
   */
  reorder: boolean;
  /** Latency: `minMs` plus an exponential tail with mean `meanExtraMs`. */
  minMs: number;
  meanExtraMs: number;
  /** Occasionally a message is much slower (a retransmission, a GC pause on the path). */
  spikeRate: number;
  spikeMs: number;
  /** Extra transfer time of a snapshot (its bytes are streamed). */
  snapshotExtraMs: number;
}

export const CALM_NETWORK: NetworkConfig = {
  dropRate: 0,
  dupRate: 0,
  reorder: false,
  minMs: 0.2,
  meanExtraMs: 0.8,
  spikeRate: 0,
  spikeMs: 0,
  snapshotExtraMs: 2,
};

/** The hooks the network needs from the cluster: the clock, the scheduler and delivery. */
export interface NetworkHost {
  now(): number;
  schedule(at: number, kind: string, node: NodeId, run: () => void, describe?: () => string): void;
  /** Hands a message to a node; returns false when the node is down (the message is lost). */
  deliver(to: NodeId, msg: Message, snapshotData: unknown): boolean;
  /** Tells the sender's transport how a snapshot stream ended (`reportSnapshot`). */
  snapshotOutcome(from: NodeId, to: NodeId, ok: boolean, senderGen: number): void;
}

export interface NetworkStats {
  sent: number;
  dropped: number;
  duplicated: number;
  delivered: number;
}

/**
 * A simulated network with per-link cuts (asymmetric: cutting a->b leaves b->a working), random loss,
 * duplication, latency and, optionally, reordering. A cut applies both when a message is sent and
 * when it would arrive, so messages in flight when a partition starts are lost too (a broken connection).
 */
export class SimNetwork {
  config: NetworkConfig;
  /** Cut links, with how many active faults cut each (a link heals when the last one is undone). */
  private readonly cuts = new Map<number, number>();
  /** Latest arrival time per link, to keep links FIFO when `reorder` is off. */
  private readonly lastArrival = new Map<number, number>();
  readonly stats: NetworkStats = { sent: 0, dropped: 0, duplicated: 0, delivered: 0 };
  /** When set, every message is deep-copied at send time, so no node ever shares an object with another. */
  cloneMessages = false;

  constructor(
    private readonly host: NetworkHost,
    private readonly rng: Rng,
    config: NetworkConfig,
  ) {
    this.config = { ...config };
  }

  /** Cuts a -> b only. */
  cut(from: NodeId, to: NodeId): void {
    const l = link(from, to);
    this.cuts.set(l, (this.cuts.get(l) ?? 0) + 1);
  }

  /** Undoes one `cut(from, to)`. */
  uncut(from: NodeId, to: NodeId): void {
    const l = link(from, to);
    const n = this.cuts.get(l);
    if (n === undefined) return;
    if (n <= 1) this.cuts.delete(l);
    else this.cuts.set(l, n - 1);
  }

  /** Cuts both directions between every node of `a` and every node of `b`. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  /** Undoes one `partition(a, b)`. */
  unpartition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.uncut(x, y);
        this.uncut(y, x);
      }
    }
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(link(from, to));
  }

  /** Removes every cut. */
  heal(): void {
    this.cuts.clear();
  }

  cutCount(): number {
    return this.cuts.size;
  }

  send(from: NodeId, msg: Message, snapshotData: unknown, senderGen: number): void {
    this.stats.sent++;
    const to = msg.to;
    const isSnapshot = msg.type === MessageType.Snapshot;
    const payload = this.cloneMessages ? structuredClone(msg) : msg;
    if (this.isCut(from, to) || this.rng.chance(this.config.dropRate)) {
      this.lost(from, to, isSnapshot, senderGen);
      return;
    }
    const copies = this.rng.chance(this.config.dupRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      const at = this.arrivalTime(from, to, isSnapshot);
      this.host.schedule(
        at,
        'deliver',
        to,
        () => {
          if (this.isCut(from, to)) {
            this.lost(from, to, isSnapshot && c === 0, senderGen);
            return;
          }
          if (
            !this.host.deliver(
              to,
              c === 0 ? payload : this.cloneMessages ? structuredClone(msg) : msg,
              snapshotData,
            )
          ) {
            this.stats.dropped++;
            if (isSnapshot && c === 0) this.reportLater(from, to, false, senderGen);
            return;
          }
          this.stats.delivered++;
          if (isSnapshot && c === 0) this.reportLater(from, to, true, senderGen);
        },
        () => describeMessage(msg),
      );
    }
  }

  private lost(from: NodeId, to: NodeId, isSnapshot: boolean, senderGen: number): void {
    this.stats.dropped++;
    // A real transport notices a failed snapshot stream (connection error or timeout) and reports it.
    if (isSnapshot) this.reportLater(from, to, false, senderGen);
  }

  private reportLater(from: NodeId, to: NodeId, ok: boolean, senderGen: number): void {
    const at = this.host.now() + this.config.minMs + this.rng.exp(this.config.meanExtraMs + 1);
    this.host.schedule(at, 'snapshot-report', from, () => this.host.snapshotOutcome(from, to, ok, senderGen));
  }

  private arrivalTime(from: NodeId, to: NodeId, isSnapshot: boolean): number {
    const cfg = this.config;
    let delay = cfg.minMs + this.rng.exp(cfg.meanExtraMs);
    if (this.rng.chance(cfg.spikeRate)) delay += this.rng.between(0, cfg.spikeMs);
    if (isSnapshot) delay += this.rng.between(0, cfg.snapshotExtraMs);
    let at = this.host.now() + delay;
    if (!cfg.reorder) {
      const l = link(from, to);
      const last = this.lastArrival.get(l) ?? 0;
      // Same-time arrivals keep their send order through the queue's sequence numbers.
      if (at < last) at = last;
      this.lastArrival.set(l, at);
    }
    return at;
  }
}

function link(from: NodeId, to: NodeId): number {
  return from * 65536 + to;
}

/** A one-line summary of a message for traces. */
export function describeMessage(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term}`;
  if (m.index !== undefined) s += ` i${m.index}`;
  if (m.logTerm !== undefined) s += ` lt${m.logTerm}`;
  if (m.entries !== undefined && m.entries.length > 0) {
    const first = m.entries[0]!;
    const last = m.entries[m.entries.length - 1]!;
    s += ` e[${first.index}..${last.index}]`;
  }
  if (m.commit !== undefined) s += ` c${m.commit}`;
  if (m.reject) s += ' REJECT';
  if (m.hintIndex !== undefined) s += ` hint${m.hintIndex}/${m.hintTerm}`;
  if (m.context) s += ` ctx${m.context}`;
  if (m.snapshot !== undefined) s += ` snap${m.snapshot.index}/${m.snapshot.term}`;
  if (m.transfer) s += ' transfer';
  if (m.leader !== undefined) s += ` leader${m.leader}`;
  return s;
}
