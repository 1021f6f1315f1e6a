import { RaftCore } from '../../src/core/raft.js';
import type {
  Entry,
  HardState,
  Membership,
  Message,
  NodeId,
  Ready,
  SnapshotMeta,
} from '../../src/core/types.js';

/** A deterministic random source: a fixed sequence per node, so scripted scenarios are repeatable. */
export function fixedRandom(values: number[]) {
  let i = 0;
  return { int: (bound: number) => (values[i++ % values.length] ?? 0) % bound };
}

export function membership(...ids: NodeId[]): Membership {
  return { voters: ids.map((id) => ({ id, address: `127.0.0.1:${9000 + id}` })) };
}

interface Disk {
  hard: HardState;
  entries: Entry[];
  snapshot: SnapshotMeta;
}

/**
 * Scripted in-memory cluster: messages sit in a queue until `deliver` or `stabilize` hands them over, so a
 * test controls every interleaving. Persistence is immediate (each Ready is carried out in full).
 */
export class Net {
  readonly cores = new Map<NodeId, RaftCore>();
  readonly disks = new Map<NodeId, Disk>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly queue: Message[] = [];
  readonly cut = new Set<string>();
  readonly readStates = new Map<NodeId, { index: number; requestId: number }[]>();
  readonly accepted = new Map<number, { index: number; term: number }>();
  readonly dropped = new Map<number, string>();

  constructor(
    readonly voters: Membership,
    readonly opts: {
      electionTicks?: number;
      heartbeatTicks?: number;
      preVote?: boolean;
      checkQuorum?: boolean;
    } = {},
  ) {}

  add(id: NodeId, init?: { term?: number; entries?: Entry[]; vote?: NodeId; commit?: number }): RaftCore {
    const snapshot: SnapshotMeta = { index: 0, term: 0, membership: this.voters };
    const disk: Disk = this.disks.get(id) ?? {
      hard: { term: init?.term ?? 0, vote: init?.vote ?? 0, commit: init?.commit ?? 0 },
      entries: init?.entries ?? [],
      snapshot,
    };
    this.disks.set(id, disk);
    const core = new RaftCore(
      {
        id,
        electionTicks: this.opts.electionTicks ?? 10,
        heartbeatTicks: this.opts.heartbeatTicks ?? 1,
        random: fixedRandom([id * 3]),
        preVote: this.opts.preVote ?? true,
        checkQuorum: this.opts.checkQuorum ?? true,
      },
      { hardState: disk.hard, snapshot: disk.snapshot, entries: disk.entries, applied: disk.snapshot.index },
    );
    this.cores.set(id, core);
    this.applied.set(id, []);
    return core;
  }

  core(id: NodeId): RaftCore {
    const c = this.cores.get(id);
    if (c === undefined) throw new Error(`no node ${id}`);
    return c;
  }

  /** Crash: forget the in-memory core; the disk stays. */
  crash(id: NodeId): void {
    this.cores.delete(id);
  }

  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a)
      for (const y of b) {
        this.cut.add(`${x}-${y}`);
        this.cut.add(`${y}-${x}`);
      }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Carries out every Ready of `id`. */
  process(id: NodeId): void {
    const core = this.cores.get(id);
    if (core === undefined) return;
    while (core.hasReady()) {
      const rd: Ready = core.ready();
      this.queue.push(...rd.messages);
      const disk = this.disks.get(id)!;
      if (rd.snapshot) {
        disk.snapshot = rd.snapshot;
        disk.entries = [];
        this.applied.set(id, []);
      }
      const first = rd.entries[0];
      if (first !== undefined) {
        disk.entries = disk.entries.filter((e) => e.index < first.index).concat(rd.entries);
      }
      if (rd.hardState) disk.hard = rd.hardState;
      this.queue.push(...rd.messagesAfterPersist);
      this.applied.get(id)!.push(...rd.committedEntries);
      for (const r of rd.readStates) {
        const list = this.readStates.get(id) ?? [];
        list.push(r);
        this.readStates.set(id, list);
      }
      for (const a of rd.accepted) this.accepted.set(a.requestId, { index: a.index, term: a.term });
      for (const d of rd.dropped) this.dropped.set(d.requestId, d.reason);
      core.advance(rd);
    }
  }

  processAll(): void {
    for (const id of this.cores.keys()) this.process(id);
  }

  /** Delivers queued messages (optionally only those matching `filter`) once. Returns how many. */
  deliver(filter?: (m: Message) => boolean): number {
    const batch = this.queue.splice(0, this.queue.length);
    let n = 0;
    for (const m of batch) {
      if (filter && !filter(m)) {
        this.queue.push(m);
        continue;
      }
      if (this.cut.has(`${m.from}-${m.to}`)) continue;
      const c = this.cores.get(m.to);
      if (c === undefined) continue;
      c.step(m);
      n++;
    }
    this.processAll();
    return n;
  }

  /** Processes and delivers until no message is left. */
  stabilize(maxRounds = 1000): void {
    this.processAll();
    for (let i = 0; i < maxRounds && this.queue.length > 0; i++) this.deliver();
    if (this.queue.length > 0) throw new Error('did not stabilize');
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.cores.get(id)?.tick();
    this.process(id);
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const c of this.cores.values()) c.tick();
      this.processAll();
    }
  }

  /** Ticks every node `ticks` times, delivering all traffic after each tick. */
  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      this.tickAll();
      this.stabilize();
    }
  }

  /** Forces `id` to campaign by ticking it past the largest randomized election timeout. */
  campaign(id: NodeId): void {
    const c = this.core(id);
    const start = c.status().term;
    for (let i = 0; i < (this.opts.electionTicks ?? 10) * 2 && c.status().role !== 'leader'; i++) {
      c.tick();
      this.process(id);
      if (c.status().role !== 'follower' || c.status().term !== start) break;
    }
    this.stabilize();
  }

  leader(): NodeId {
    let lead = 0;
    for (const c of this.cores.values()) if (c.status().role === 'leader') lead = c.id;
    return lead;
  }

  propose(id: NodeId, requestId: number, text: string): void {
    this.core(id).propose(requestId, new TextEncoder().encode(text));
  }

  appliedData(id: NodeId): string[] {
    return (this.applied.get(id) ?? [])
      .filter((e) => e.data !== undefined)
      .map((e) => new TextDecoder().decode(e.data));
  }
}

export function ent(index: number, term: number, text?: string): Entry {
  return text === undefined
    ? { index, term, kind: 1 }
    : { index, term, kind: 0, data: new TextEncoder().encode(text) };
}
