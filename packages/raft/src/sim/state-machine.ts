import { type Entry, EntryKind } from '../core/types.js';

/**
 * The replicated state machine a simulated node runs. Synchronous, unlike the production port: the
 * simulation has no real I/O, and a synchronous interface keeps the event loop deterministic.
 *
 * Contract: `snapshot()` returns a value describing the state as of the last applied entry that later
 * `apply` calls must not mutate (return a copy or an immutable structure); `restore(data)` must not keep
 * references into `data` that it later mutates (the same value is shared by every node installing it).
 */
export interface SimStateMachine {
  /** Committed entries in log order: Normal, NoOp and Membership alike. */
  apply(entries: readonly Entry[]): void;
  snapshot(): unknown;
  restore(data: unknown): void;
}

export type StateMachineFactory = () => SimStateMachine;

/** The default state machine: the list of applied Normal payloads, in order. */
export class LogStateMachine implements SimStateMachine {
  payloads: Uint8Array[] = [];

  apply(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.kind === EntryKind.Normal && e.data !== undefined) this.payloads.push(e.data);
    }
  }

  snapshot(): unknown {
    // Payload arrays are never mutated once proposed, so a shallow copy captures the state.
    return this.payloads.slice();
  }

  restore(data: unknown): void {
    if (!Array.isArray(data)) throw new Error('LogStateMachine.restore: expected an array of payloads');
    this.payloads = (data as Uint8Array[]).slice();
  }
}

/** Structural equality for snapshot values: primitives, arrays, typed arrays, Maps, Sets and plain objects. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
    return bytesEqual(
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set) || !(b instanceof Set) || a.size !== b.size) return false;
    for (const k of a) if (!b.has(k)) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (
      !Object.hasOwn(b, k) ||
      !deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    ) {
      return false;
    }
  }
  return true;
}

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
