/**
 * A linearizability checker in the manner of Wing & Gong, with the two improvements Porcupine uses
 * (Lowe's memoisation of (linearized set, state) pairs, and P-compositionality: each key is checked on
 * its own, which is sound for models whose operations touch one key).
 *
 * An operation has a call time and a return time. One whose outcome is unknown (it timed out, its
 * connection broke after the request was written) returns at +Infinity: it may take effect at any point
 * after its call, or never (taking effect after everything else is indistinguishable from never).
 *
 * The search walks the history's call/return events in time order, linearizing a pending call whenever
 * the model accepts it, backtracking on a return whose call could not be linearized before it.
 */

export interface Model<S, I, O> {
  readonly init: () => S;
  /** Whether `input` answering `output` is legal in state `s`, and the state after it. */
  readonly step: (s: S, input: I, output: O | undefined) => readonly [boolean, S];
  /** A key for memoisation: equal states must give equal keys. */
  readonly key: (s: S) => string;
  readonly describe?: (input: I, output: O | undefined) => string;
}

export interface Operation<I, O> {
  readonly id: number;
  readonly client: number;
  readonly input: I;
  /** undefined when the outcome is unknown. */
  readonly output: O | undefined;
  readonly call: number;
  /** +Infinity when the outcome is unknown. */
  readonly ret: number;
}

export type CheckResult<I, O> =
  | { readonly ok: true; readonly steps: number }
  | { readonly ok: false; readonly steps: number; readonly longestPrefix: readonly Operation<I, O>[] }
  | { readonly ok: 'unknown'; readonly steps: number; readonly reason: string };

interface Node<I, O> {
  readonly op: Operation<I, O>;
  readonly isCall: boolean;
  readonly time: number;
  match: Node<I, O> | undefined;
  prev: Node<I, O> | undefined;
  next: Node<I, O> | undefined;
}

/** A bitset over operation indexes, with a string key for the memo. */
class Bits {
  constructor(readonly words: Uint32Array) {}
  static of(n: number): Bits {
    return new Bits(new Uint32Array(Math.ceil(n / 32) || 1));
  }
  set(i: number): this {
    this.words[i >>> 5]! |= 1 << (i & 31);
    return this;
  }
  clear(i: number): this {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    return this;
  }
  clone(): Bits {
    return new Bits(this.words.slice());
  }
  key(): string {
    return Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength).toString('latin1');
  }
}

/** Checks one key's history. `maxSteps` bounds the search (the answer is then 'unknown'). */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  maxSteps = 50_000_000,
): CheckResult<I, O> {
  const ops = history.map((op, index) => ({ op, index }));
  const index = new Map<Operation<I, O>, number>(ops.map(({ op, index }) => [op, index]));
  // Calls before returns at equal times: touching intervals count as concurrent (never a false alarm).
  const events: Node<I, O>[] = [];
  for (const { op } of ops) {
    const call: Node<I, O> = {
      op,
      isCall: true,
      time: op.call,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    const ret: Node<I, O> = {
      op,
      isCall: false,
      time: op.ret,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node<I, O> = {
    op: undefined as never,
    isCall: false,
    time: Number.NEGATIVE_INFINITY,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  const lift = (n: Node<I, O>) => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node<I, O>) => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };

  const memo = new Set<string>();
  const stack: { node: Node<I, O>; state: S }[] = [];
  let linearized = Bits.of(ops.length);
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  let longest: Operation<I, O>[] = [];
  while (head.next !== undefined) {
    if (++steps > maxSteps) {
      return { ok: 'unknown', steps, reason: `search gave up after ${maxSteps} steps` };
    }
    const node = entry!;
    if (node.isCall) {
      const [legal, next] = model.step(state, node.op.input, node.op.output);
      if (legal) {
        const i = index.get(node.op)!;
        const candidate = linearized.clone().set(i);
        const key = `${candidate.key()}|${model.key(next)}`;
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ node, state });
          state = next;
          linearized = candidate;
          lift(node);
          entry = head.next;
          continue;
        }
      }
      entry = node.next;
    } else {
      // A return whose call is still pending: undo the latest linearization and try the next choice.
      if (stack.length > longest.length) longest = stack.map((s) => s.node.op);
      const top = stack.pop();
      if (top === undefined) return { ok: false, steps, longestPrefix: longest };
      state = top.state;
      linearized.clear(index.get(top.node.op)!);
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { ok: true, steps };
}

// ---- The register model ---------------------------------------------------------------------

/** A read-write register: a read answers the last value written (`initial` before any write). */
export type RegisterInput = { readonly kind: 'write'; readonly value: number } | { readonly kind: 'read' };

export function registerModel(initial: number): Model<number, RegisterInput, number> {
  return {
    init: () => initial,
    step: (s, input, output) => {
      if (input.kind === 'write') return [true, input.value];
      return [output === undefined || output === s, s];
    },
    key: (s) => String(s),
    describe: (input, output) =>
      input.kind === 'write' ? `write ${input.value}` : `read -> ${output === undefined ? '?' : output}`,
  };
}

/**
 * Drops what cannot change the verdict of a register history: reads of unknown outcome (they observed
 * nothing), and unknown-outcome writes whose value no read returned (if the rest is linearizable, such a
 * write linearizes after everything; and removing an unread write from a linearization keeps it valid).
 * Values must be unique per write for the second rule.
 */
export function pruneRegisterHistory(
  history: readonly Operation<RegisterInput, number>[],
): Operation<RegisterInput, number>[] {
  const read = new Set<number>();
  for (const op of history) if (op.input.kind === 'read' && op.output !== undefined) read.add(op.output);
  return history.filter((op) => {
    if (op.input.kind === 'read') return op.output !== undefined;
    return op.output !== undefined || read.has(op.input.value);
  });
}

// ---- The topic model: existence of one topic name -------------------------------------------

export type TopicInput =
  | { readonly kind: 'create' }
  | { readonly kind: 'delete' }
  | { readonly kind: 'exists' };
/** create: 'created' | 'exists'; delete: 'deleted' | 'missing'; exists: 'yes' | 'no'. */
export type TopicOutput = 'created' | 'exists' | 'deleted' | 'missing' | 'yes' | 'no';

export const topicModel: Model<boolean, TopicInput, TopicOutput> = {
  init: () => false,
  step: (s, input, output) => {
    switch (input.kind) {
      case 'create':
        if (output === undefined) return [true, true];
        return s ? [output === 'exists', s] : [output === 'created', true];
      case 'delete':
        if (output === undefined) return [true, false];
        return s ? [output === 'deleted', false] : [output === 'missing', false];
      case 'exists':
        return [output === undefined || output === (s ? 'yes' : 'no'), s];
    }
  },
  key: (s) => (s ? '1' : '0'),
  describe: (input, output) => `${input.kind} -> ${output ?? '?'}`,
};
