/**
 * The checkers of a chaos run, all working on the saved record (so a replay re-runs them):
 * - linearizability of every register and of every topic's existence (final reads included);
 * - no acknowledged write lost: the final value of every register, the same on every node, is not
 *   older than any acknowledged write;
 * - every node's metadata image equal at one offset at the end;
 * - the cluster available again (a write and a linearizable read) within a bound after the faults.
 * Only the last depends on timing; the others only on the order of recorded events.
 */
import type { FinalNodeState, HistoryOp, RunRecord } from './history.js';
import {
  checkOperations,
  type Operation,
  pruneRegisterHistory,
  type RegisterInput,
  registerModel,
  type TopicInput,
  type TopicOutput,
  topicModel,
} from './linearizability.js';

export interface CheckReport {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: readonly string[];
}

export interface RunStats {
  readonly faultsByKind: Record<string, number>;
  readonly faults: number;
  readonly operations: number;
  readonly byKind: Record<string, { ok: number; fail: number; unknown: number }>;
  readonly acknowledgedWrites: number;
  readonly lostWrites: number;
  readonly linearizabilityViolations: number;
  readonly linearizabilityUndecided: number;
  /** The longest time without any successful operation, from the first fault to the end. */
  readonly worstUnavailableMs: number;
  readonly worstUnavailableAt: number;
  /** The fault active (or last healed) when that window began. */
  readonly worstUnavailableFault: string;
  readonly recoveryMs: number | null;
}

export interface Verdict {
  readonly ok: boolean;
  readonly checks: readonly CheckReport[];
  readonly stats: RunStats;
}

const INITIAL = -1;
const retOf = (op: HistoryOp) => (op.outcome === 'ok' ? op.ret! : Number.POSITIVE_INFINITY);
const done = (op: HistoryOp) => op.outcome === 'ok' || op.outcome === 'unknown' || op.outcome === null;

/** One history per register key, with the final reads of every node at the end. */
export function registerHistories(record: RunRecord): Map<number, Operation<RegisterInput, number>[]> {
  const byKey = new Map<number, Operation<RegisterInput, number>[]>();
  for (let k = 0; k < record.keys; k++) byKey.set(k, []);
  let id = 0;
  for (const op of record.history) {
    if (op.kind === 'write' && done(op)) {
      byKey.get(op.key)!.push({
        id: id++,
        client: op.worker,
        input: { kind: 'write', value: op.value },
        output: op.outcome === 'ok' ? op.value : undefined,
        call: op.call,
        ret: retOf(op),
      });
    } else if (op.kind === 'read' && op.outcome === 'ok') {
      for (let k = 0; k < record.keys; k++) {
        byKey.get(k)!.push({
          id: id++,
          client: op.worker,
          input: { kind: 'read' },
          output: op.values?.[k] ?? INITIAL,
          call: op.call,
          ret: op.ret!,
        });
      }
    }
  }
  for (const f of record.final) {
    for (let k = 0; k < record.keys; k++) {
      byKey.get(k)!.push({
        id: id++,
        client: -f.node,
        input: { kind: 'read' },
        output: f.values[k] ?? INITIAL,
        call: record.finalAt,
        ret: record.finalAt + 1,
      });
    }
  }
  return byKey;
}

/** One history per topic name: creates, deletes, linearizable listings and the final listings. */
export function topicHistories(record: RunRecord): Map<string, Operation<TopicInput, TopicOutput>[]> {
  const byTopic = new Map<string, Operation<TopicInput, TopicOutput>[]>();
  for (const t of record.topicNames) byTopic.set(t, []);
  let id = 0;
  for (const op of record.history) {
    if ((op.kind === 'create' || op.kind === 'delete') && done(op)) {
      byTopic.get(op.topic)?.push({
        id: id++,
        client: op.worker,
        input: { kind: op.kind },
        output: op.outcome === 'ok' ? op.result : undefined,
        call: op.call,
        ret: retOf(op),
      });
    } else if (op.kind === 'list' && op.outcome === 'ok') {
      const present = new Set(op.topics);
      for (const [t, ops] of byTopic)
        ops.push({
          id: id++,
          client: op.worker,
          input: { kind: 'exists' },
          output: present.has(t) ? 'yes' : 'no',
          call: op.call,
          ret: op.ret!,
        });
    }
  }
  for (const f of record.final) {
    const present = new Set(f.topics);
    for (const [t, ops] of byTopic)
      ops.push({
        id: id++,
        client: -f.node,
        input: { kind: 'exists' },
        output: present.has(t) ? 'yes' : 'no',
        call: record.finalAt,
        ret: record.finalAt + 1,
      });
  }
  return byTopic;
}

function describeOps<I, O>(ops: readonly Operation<I, O>[], show: (op: Operation<I, O>) => string): string[] {
  return ops.map(
    (o) =>
      `    ${show(o)} [client ${o.client}, ${o.call.toFixed(0)}..${Number.isFinite(o.ret) ? o.ret.toFixed(0) : '?'} ms]`,
  );
}

function checkLinearizability(record: RunRecord, maxSteps: number) {
  const detail: string[] = [];
  let violations = 0;
  let undecided = 0;
  for (const [key, ops] of registerHistories(record)) {
    const pruned = pruneRegisterHistory(ops);
    const r = checkOperations(registerModel(INITIAL), pruned, maxSteps);
    if (r.ok === true) continue;
    if (r.ok === 'unknown') {
      undecided++;
      detail.push(`register ${key}: undecided (${r.reason})`);
      continue;
    }
    violations++;
    detail.push(
      `register ${key}: NOT linearizable (${pruned.length} operations); longest linearizable prefix ends:`,
    );
    detail.push(
      ...describeOps(r.longestPrefix.slice(-8), (o) =>
        o.input.kind === 'write' ? `write ${o.input.value}` : `read -> ${o.output}`,
      ),
    );
  }
  for (const [topic, ops] of topicHistories(record)) {
    const r = checkOperations(topicModel, ops, maxSteps);
    if (r.ok === true) continue;
    if (r.ok === 'unknown') {
      undecided++;
      detail.push(`topic ${topic}: undecided (${r.reason})`);
      continue;
    }
    violations++;
    detail.push(
      `topic ${topic}: NOT linearizable (${ops.length} operations); longest linearizable prefix ends:`,
    );
    detail.push(...describeOps(r.longestPrefix.slice(-8), (o) => `${o.input.kind} -> ${o.output ?? '?'}`));
  }
  return { violations, undecided, detail };
}

/** Acknowledged writes the final state does not reflect. */
export function lostWrites(record: RunRecord): { lost: number; acknowledged: number; detail: string[] } {
  const detail: string[] = [];
  let lost = 0;
  let acknowledged = 0;
  if (record.final.length === 0) return { lost: 0, acknowledged: 0, detail: ['no final state was read'] };
  const writer = new Map<number, HistoryOp & { kind: 'write' }>();
  for (const op of record.history) if (op.kind === 'write') writer.set(op.value, op);
  for (let k = 0; k < record.keys; k++) {
    const finals = new Set(record.final.map((f) => f.values[k] ?? INITIAL));
    if (finals.size > 1) {
      detail.push(`register ${k}: the nodes disagree on the final value: ${[...finals].join(', ')}`);
      lost++;
      continue;
    }
    const v = [...finals][0]!;
    const w = writer.get(v);
    if (v !== INITIAL && w === undefined) {
      detail.push(`register ${k}: final value ${v} was never written`);
      lost++;
    }
    for (const op of record.history) {
      if (op.kind !== 'write' || op.key !== k || op.outcome !== 'ok') continue;
      acknowledged++;
      // Lost: the final value is the initial one, or was written by a write acknowledged before this one began.
      const older = v === INITIAL || (w !== undefined && w.outcome === 'ok' && w.ret! < op.call);
      if (older) {
        lost++;
        detail.push(
          `register ${k}: acknowledged write ${op.value} (${op.call.toFixed(0)}..${op.ret!.toFixed(0)} ms) lost; final value ${v}`,
        );
      }
    }
  }
  // Topics: an acknowledged create (delete) whose effect is gone with no delete (create) that could explain it.
  const finalTopics = new Set(record.final[0]!.topics);
  for (const op of record.history) {
    if (
      (op.kind !== 'create' || op.result !== 'created') &&
      (op.kind !== 'delete' || op.result !== 'deleted')
    )
      continue;
    if (op.outcome !== 'ok') continue;
    acknowledged++;
    const present = finalTopics.has(op.topic);
    if (op.kind === 'create' ? present : !present) continue;
    const undo = op.kind === 'create' ? 'delete' : 'create';
    const explained = record.history.some(
      (o) =>
        o.kind === undo &&
        o.topic === op.topic &&
        o.outcome !== 'fail' &&
        (o.outcome !== 'ok' || o.ret! > op.call),
    );
    if (!explained) {
      lost++;
      detail.push(`topic ${op.topic}: acknowledged ${op.kind} (${op.call.toFixed(0)} ms) lost`);
    }
  }
  return { lost, acknowledged, detail };
}

function checkImages(
  final: readonly FinalNodeState[],
  nodes: number,
  error: string | undefined,
): CheckReport {
  if (final.length < nodes) {
    return {
      name: 'metadata images equal',
      ok: false,
      detail: [error ?? `only ${final.length} of ${nodes} nodes answered`],
    };
  }
  const offsets = new Set(final.map((f) => f.offset));
  const digests = new Set(final.map((f) => f.digest));
  const lines = final.map((f) => `node ${f.node}: offset ${f.offset} digest ${f.digest.slice(0, 16)}`);
  return { name: 'metadata images equal', ok: offsets.size === 1 && digests.size === 1, detail: lines };
}

function availability(record: RunRecord) {
  const firstFault = record.schedule[0]?.at ?? 0;
  const end = record.healedAt + (record.recoveryMs ?? 0);
  const times = record.history
    .filter((op) => op.outcome === 'ok')
    .map((op) => op.ret!)
    .filter((t) => t >= firstFault)
    .sort((a, b) => a - b);
  let worst = 0;
  let at = firstFault;
  let prev = firstFault;
  for (const t of [...times, end]) {
    if (t - prev > worst) {
      worst = t - prev;
      at = prev;
    }
    prev = Math.max(prev, t);
  }
  // The faults that started during the window (or the one in force when it began).
  const during = record.faultLog.filter((e) => e.phase === 'start' && e.at >= at && e.at <= at + worst);
  const healedBy = (e: { index: number }) =>
    record.faultLog.find((h) => h.phase === 'heal' && h.index === e.index)?.at ?? Number.POSITIVE_INFINITY;
  const before = record.faultLog.find((e) => e.phase === 'start' && e.at <= at && healedBy(e) > at);
  const names = [...(before === undefined ? [] : [before]), ...during].map((e) => e.text);
  return { worst, at, fault: names.length === 0 ? 'no fault' : names.join('; ') };
}

export function checkRun(record: RunRecord, options: { maxSteps?: number } = {}): Verdict {
  const lin = checkLinearizability(record, options.maxSteps ?? 20_000_000);
  const lost = lostWrites(record);
  const images = checkImages(record.final, record.nodes, record.finalError);
  const recovered = record.recoveryMs !== null && record.recoveryMs <= record.recoveryBoundMs;
  const avail = availability(record);
  const byKind: Record<string, { ok: number; fail: number; unknown: number }> = {};
  for (const op of record.history) {
    const s = byKind[op.kind] ?? { ok: 0, fail: 0, unknown: 0 };
    byKind[op.kind] = s;
    s[op.outcome ?? 'unknown']++;
  }
  const faultsByKind: Record<string, number> = {};
  for (const f of record.schedule) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  const checks: CheckReport[] = [
    {
      name: 'linearizable (registers and topics)',
      ok: lin.violations === 0 && lin.undecided === 0,
      detail: lin.detail,
    },
    {
      name: 'no acknowledged write lost',
      ok: lost.lost === 0 && record.final.length > 0,
      detail: lost.detail,
    },
    images,
    {
      name: `available again within ${(record.recoveryBoundMs / 1000).toFixed(0)} s of healing`,
      ok: recovered,
      detail: [
        record.recoveryMs === null
          ? 'never recovered'
          : `a write and a linearizable read succeeded ${(record.recoveryMs / 1000).toFixed(2)} s after healing`,
      ],
    },
  ];
  return {
    ok: checks.every((c) => c.ok),
    checks,
    stats: {
      faultsByKind,
      faults: record.schedule.length,
      operations: record.history.length,
      byKind,
      acknowledgedWrites: lost.acknowledged,
      lostWrites: lost.lost,
      linearizabilityViolations: lin.violations,
      linearizabilityUndecided: lin.undecided,
      worstUnavailableMs: avail.worst,
      worstUnavailableAt: avail.at,
      worstUnavailableFault: avail.fault,
      recoveryMs: record.recoveryMs,
    },
  };
}

/** The verdict for people: one line a check, details under failed ones, then the figures. */
export function formatVerdict(v: Verdict): string {
  const s = v.stats;
  const lines: string[] = [];
  for (const c of v.checks) {
    lines.push(`${c.ok ? 'PASS' : 'FAIL'}  ${c.name}`);
    for (const d of c.ok ? c.detail.slice(0, 1) : c.detail.slice(0, 40)) lines.push(`      ${d}`);
  }
  const kinds = Object.entries(s.byKind)
    .map(([k, c]) => `${k} ${c.ok}/${c.fail}/${c.unknown}`)
    .join(', ');
  lines.push(
    `faults: ${s.faults} (${Object.entries(s.faultsByKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')})`,
    `operations: ${s.operations} (ok/fail/unknown: ${kinds})`,
    `acknowledged writes: ${s.acknowledgedWrites}, lost: ${s.lostWrites}`,
    `linearizability violations: ${s.linearizabilityViolations}${s.linearizabilityUndecided > 0 ? ` (undecided: ${s.linearizabilityUndecided})` : ''}`,
    `worst unavailability window: ${(s.worstUnavailableMs / 1000).toFixed(2)} s at t=${(s.worstUnavailableAt / 1000).toFixed(1)} s (${s.worstUnavailableFault})`,
    `recovery after healing: ${s.recoveryMs === null ? 'never' : `${(s.recoveryMs / 1000).toFixed(2)} s`}`,
    `verdict: ${v.ok ? 'PASS' : 'FAIL'}`,
  );
  return lines.join('\n');
}
