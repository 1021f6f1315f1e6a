/**
 * The seeded fault schedule: one fault at a time, each held for a while, then healed, then a quiet gap.
 * A seed always gives the same schedule (the node a `leader` target hits is resolved when applied).
 */
import { Rng } from '@kbroker/raft/testing';

export const FAULT_KINDS = [
  /** Black-hole every byte between two nodes, both directions (held, delivered if they heal in time). */
  'drop',
  /** Black-hole one direction of a pair. */
  'cut-one',
  /** Reset and refuse every connection between two nodes. */
  'cut-both',
  /** Add latency between two nodes. */
  'delay',
  /** Cut one node off from every other node (cut-both on all its pairs). */
  'isolate',
  /** Split the nodes into a minority and a majority (cut-both across). */
  'partition',
  /** kill -9 one node; restarted at heal. */
  'kill',
  /** kill -9 a majority; restarted at heal (the cluster is unavailable meanwhile). */
  'kill-majority',
  /** SIGSTOP one node; SIGCONT at heal. */
  'pause',
  /** kill -9 one node and start it again at once. */
  'restart',
  /** Reset and refuse the clients' connections to one node (and forwarding to it). */
  'client-cut',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A node id, or the Raft leader at the moment the fault is applied. */
export type Target = number | 'leader';

export interface Fault {
  readonly index: number;
  /** ms since the run started. */
  readonly at: number;
  readonly durationMs: number;
  readonly kind: FaultKind;
  /** The nodes hit: one for node faults, two (from, to) for pair faults, the minority for a partition. */
  readonly targets: readonly Target[];
  readonly delayMs?: number;
}

const WEIGHTS: Readonly<Record<FaultKind, number>> = {
  drop: 2,
  'cut-one': 2,
  'cut-both': 2,
  delay: 1,
  isolate: 2,
  partition: 2,
  kill: 3,
  'kill-majority': 1,
  pause: 2,
  restart: 2,
  'client-cut': 1,
};

export interface ScheduleOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  /** Quiet time before the first fault. Default 3000. */
  readonly warmupMs?: number;
  /** Fault lengths, ms. Default 1000..6000. */
  readonly faultMs?: readonly [number, number];
  /** Gaps between faults, ms. Default 500..3000. */
  readonly gapMs?: readonly [number, number];
}

function pickKind(rng: Rng): FaultKind {
  const total = FAULT_KINDS.reduce((s, k) => s + WEIGHTS[k], 0);
  let x = rng.int(total);
  for (const k of FAULT_KINDS) {
    x -= WEIGHTS[k];
    if (x < 0) return k;
  }
  return 'kill';
}

/** Distinct nodes, the first possibly the leader. */
function pickNodes(rng: Rng, nodes: number, count: number, leaderFirst: boolean): Target[] {
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const out: Target[] = [];
  for (let i = 0; i < count; i++) out.push(ids.splice(rng.int(ids.length), 1)[0]!);
  if (leaderFirst) out[0] = 'leader';
  return out;
}

export function generateSchedule(opts: ScheduleOptions): Fault[] {
  const rng = new Rng(opts.seed).fork('schedule');
  const [fMin, fMax] = opts.faultMs ?? [1000, 6000];
  const [gMin, gMax] = opts.gapMs ?? [500, 3000];
  const faults: Fault[] = [];
  let t = opts.warmupMs ?? 3000;
  for (;;) {
    const kind = pickKind(rng);
    const durationMs = kind === 'restart' ? rng.range(500, 1500) : rng.range(fMin, fMax);
    if (t + durationMs > opts.durationMs) break;
    const leader = rng.chance(0.4);
    const minority = Math.floor((opts.nodes - 1) / 2);
    let targets: Target[];
    switch (kind) {
      case 'drop':
      case 'cut-one':
      case 'cut-both':
      case 'delay':
        targets = pickNodes(rng, opts.nodes, 2, leader);
        break;
      case 'partition':
        targets = pickNodes(rng, opts.nodes, rng.range(1, minority), leader);
        break;
      case 'kill-majority':
        targets = pickNodes(rng, opts.nodes, minority + 1, leader);
        break;
      default:
        targets = pickNodes(rng, opts.nodes, 1, leader);
    }
    faults.push({
      index: faults.length + 1,
      at: t,
      durationMs,
      kind,
      targets,
      ...(kind === 'delay' ? { delayMs: rng.range(20, 400) } : {}),
    });
    t += durationMs + rng.range(gMin, gMax);
  }
  return faults;
}

export function describeFault(f: Fault, resolved?: readonly number[]): string {
  const names = (resolved ?? f.targets).map((t) => (t === 'leader' ? 'leader' : `n${t}`));
  const hit = resolved !== undefined && f.targets.includes('leader') ? ` (leader n${resolved[0]})` : '';
  const what = (() => {
    switch (f.kind) {
      case 'drop':
        return `drop ${names[0]}<->${names[1]}`;
      case 'cut-one':
        return `cut ${names[0]}->${names[1]}`;
      case 'cut-both':
        return `cut ${names[0]}<->${names[1]}`;
      case 'delay':
        return `delay ${names[0]}<->${names[1]} ${f.delayMs}ms`;
      case 'partition':
        return `partition {${names.join(',')}} | rest`;
      case 'client-cut':
        return `cut clients->${names[0]}`;
      default:
        return `${f.kind} ${names.join(',')}`;
    }
  })();
  return `#${f.index} t=${(f.at / 1000).toFixed(1)}s ${what} for ${(f.durationMs / 1000).toFixed(1)}s${hit}`;
}
