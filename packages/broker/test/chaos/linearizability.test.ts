import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkOperations,
  type Operation,
  pruneRegisterHistory,
  type RegisterInput,
  registerModel,
  type TopicInput,
  type TopicOutput,
  topicModel,
} from '../../src/chaos/linearizability.js';

type Op = Operation<RegisterInput, number>;
let nextId = 0;
const w = (client: number, value: number, call: number, ret: number, ok = true): Op => ({
  id: nextId++,
  client,
  input: { kind: 'write', value },
  output: ok ? value : undefined,
  call,
  ret: ok ? ret : Number.POSITIVE_INFINITY,
});
const r = (client: number, value: number | undefined, call: number, ret: number): Op => ({
  id: nextId++,
  client,
  input: { kind: 'read' },
  output: value,
  call,
  ret: value === undefined ? Number.POSITIVE_INFINITY : ret,
});
const check = (ops: Op[]) => checkOperations(registerModel(-1), ops).ok;

/** The definition itself: some order of all operations respecting real time that the register allows. */
function bruteForce(ops: readonly Op[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const go = (n: number, value: number): boolean => {
    if (n === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      const op = ops[i]!;
      // op may come next only if no other remaining op returned before op was called.
      if (ops.some((o, j) => !used[j] && j !== i && o.ret < op.call)) continue;
      if (op.input.kind === 'read' && op.output !== undefined && op.output !== value) continue;
      used[i] = true;
      if (go(n + 1, op.input.kind === 'write' ? op.input.value : value)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(0, -1);
}

describe('register linearizability', () => {
  it('accepts sequential and overlapping histories that have a linearization', () => {
    expect(check([])).toBe(true);
    expect(check([w(1, 1, 0, 1), r(2, 1, 2, 3), w(1, 2, 4, 5), r(2, 2, 6, 7)])).toBe(true);
    // A read overlapping a write may see either value.
    expect(check([w(1, 1, 0, 1), w(1, 2, 2, 10), r(2, 1, 3, 4), r(3, 2, 5, 6)])).toBe(true);
    // The initial value before any write.
    expect(check([r(2, -1, 0, 1), w(1, 1, 2, 3)])).toBe(true);
    // Two concurrent writes, reads agree on one order.
    expect(check([w(1, 1, 0, 10), w(2, 2, 0, 10), r(3, 2, 1, 2), r(3, 1, 3, 4)])).toBe(true);
  });

  it('rejects stale reads, reads going back in time and values never written', () => {
    // Stale: the read starts after write 2 completed but sees 1.
    expect(check([w(1, 1, 0, 1), w(1, 2, 2, 3), r(2, 1, 4, 5)])).toBe(false);
    // Two sequential reads see 2 then 1 though 1 was written before 2.
    expect(check([w(1, 1, 0, 1), w(2, 2, 2, 10), r(3, 2, 3, 4), r(3, 1, 5, 6)])).toBe(false);
    expect(check([w(1, 1, 0, 1), r(2, 7, 2, 3)])).toBe(false);
    // Lost acknowledged write: the value goes back to the initial one.
    expect(check([w(1, 1, 0, 1), r(2, -1, 2, 3)])).toBe(false);
  });

  it('lets an unknown-outcome write take effect late, or never, but only once', () => {
    // Timed-out write 2 is seen long after its call: fine.
    expect(check([w(1, 2, 0, 0, false), w(2, 3, 1, 2), r(3, 3, 3, 4), r(3, 2, 100, 101)])).toBe(true);
    // Never seen: fine.
    expect(check([w(1, 2, 0, 0, false), r(3, -1, 100, 101)])).toBe(true);
    // Seen, then the older value, then it again: it cannot take effect twice.
    expect(check([w(1, 1, 0, 1), w(2, 2, 2, 0, false), r(3, 2, 3, 4), r(3, 1, 5, 6), r(3, 2, 7, 8)])).toBe(
      false,
    );
    // Seen before it was invoked: impossible.
    expect(check([r(3, 2, 0, 1), w(1, 2, 2, 0, false)])).toBe(false);
  });

  it('pruning unread unknown writes and unknown reads does not change the verdict, which is the definition', () => {
    const arb = fc.array(
      fc.record({
        write: fc.boolean(),
        value: fc.integer({ min: 0, max: 3 }),
        start: fc.integer({ min: 0, max: 40 }),
        len: fc.integer({ min: 1, max: 10 }),
        known: fc.boolean(),
      }),
      { maxLength: 9 },
    );
    fc.assert(
      fc.property(arb, (specs) => {
        let unique = 100;
        const ops = specs.map((s, i) =>
          s.write
            ? w(i, unique++, s.start, s.start + s.len, s.known)
            : r(i, s.known ? (s.value === 0 ? -1 : 99 + s.value) : undefined, s.start, s.start + s.len),
        );
        const expected = bruteForce(ops);
        expect(check(ops)).toBe(expected);
        expect(checkOperations(registerModel(-1), pruneRegisterHistory(ops)).ok).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('reports the search budget running out as unknown, not as a verdict', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 12; i++) ops.push(w(i, i, 0, 100));
    ops.push(r(99, 123, 101, 102));
    expect(checkOperations(registerModel(-1), ops, 1000).ok).toBe('unknown');
  });
});

describe('topic existence linearizability', () => {
  const t = (input: TopicInput, output: TopicOutput | undefined, call: number, ret: number) => ({
    id: nextId++,
    client: 0,
    input,
    output,
    call,
    ret: output === undefined ? Number.POSITIVE_INFINITY : ret,
  });
  it('accepts create/delete answers consistent with one order and rejects others', () => {
    const create = { kind: 'create' } as const;
    const del = { kind: 'delete' } as const;
    const exists = { kind: 'exists' } as const;
    expect(
      checkOperations(topicModel, [
        t(create, 'created', 0, 1),
        t(create, 'exists', 2, 3),
        t(del, 'deleted', 4, 5),
      ]).ok,
    ).toBe(true);
    expect(checkOperations(topicModel, [t(create, 'created', 0, 1), t(create, 'created', 2, 3)]).ok).toBe(
      false,
    );
    expect(checkOperations(topicModel, [t(del, 'deleted', 0, 1)]).ok).toBe(false);
    // An unknown create explains a later 'exists'.
    expect(checkOperations(topicModel, [t(create, undefined, 0, 0), t(exists, 'yes', 5, 6)]).ok).toBe(true);
    expect(checkOperations(topicModel, [t(create, 'created', 0, 1), t(exists, 'no', 5, 6)]).ok).toBe(false);
  });
});
