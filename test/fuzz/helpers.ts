/**
 * Shared pieces of the decoder fuzz tests: how many cases to run (CI-sized by default, `FUZZ_RUNS=100000`
 * for a long run) and byte-level mutations of valid encodings.
 */
import fc from 'fast-check';

/** Cases per property. */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

/** One change to a byte string: a bit flip, a cut, a 4-byte length overwritten, bytes inserted. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'length'; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('length' as const),
    at: fc.nat(),
    // Lengths that lie a little, and ones near the 32-bit limits.
    value: fc.oneof(
      fc.nat({ max: 64 }),
      fc.integer({ min: 0x7fff_fff0, max: 0xffff_ffff }),
      fc.nat({ max: 0xffff_ffff }),
    ),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
);

export const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

/** Applies `ms` in order to a copy of `bytes`. */
export function mutate(bytes: Uint8Array, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at]! ^= 1 << m.bit;
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'length' && at + 4 <= b.length) b.writeUInt32BE(m.value, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
  }
  return b;
}

/** Runs `fn`; returns what it threw (undefined when it returned). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Awaits `fn`; returns what it rejected with (undefined when it resolved). */
export async function rejectionOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** True when `err` is an instance of one of `types`; the message names it otherwise. */
export function typedError(
  err: unknown,
  types: readonly (abstract new (...args: never[]) => Error)[],
): string | true {
  if (types.some((t) => err instanceof t)) return true;
  return `untyped error: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`;
}

/** Replaces the value at the `pick`-th path (into maps and arrays, not binary values) of a copy of `value`. */
export function replaceAt(value: unknown, pick: number, replacement: unknown): unknown {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (path.length > 0) paths.push(path);
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return;
    for (const [k, c] of Object.entries(v)) walk(c, [...path, Array.isArray(v) ? Number(k) : k]);
  };
  walk(value, []);
  if (paths.length === 0) return replacement;
  const path = paths[pick % paths.length]!;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = replacement;
  return copy;
}
