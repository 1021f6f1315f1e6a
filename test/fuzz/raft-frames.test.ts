/**
 * Hostile Raft frames: what arrives in a quorum `msg` frame is checked by `decodeRaftFrame` before the
 * driver acts on it. Well-formed frames pass unchanged; anything else (random values, valid frames with
 * a field replaced by a value of another type, entry runs with gaps) is a MalformedRaftFrameError, and a
 * driver fed such frames keeps running.
 */
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { EntryKind, MessageType } from '../../packages/raft/src/core/types.js';
import { decodeRaftFrame, MalformedRaftFrameError } from '../../packages/raft/src/transport/raft-frames.js';
import { mutate, mutations, RUNS, replaceAt, thrownBy, typedError } from './helpers.js';

const id = fc.integer({ min: 1, max: 9 });
const n = fc.nat({ max: 1_000_000 });
const membership = fc
  .uniqueArray(id, { minLength: 1, maxLength: 5 })
  .map((ids) => ({ voters: ids.map((i) => ({ id: i, address: `127.0.0.1:${9000 + i}` })) }));
const snapshotMeta = fc.record({ index: n, term: n, membership });

const message = fc
  .record({
    type: fc.constantFrom(...Object.values(MessageType)),
    from: id,
    to: id,
    term: fc.integer({ min: 1, max: 1000 }),
    index: n,
    commit: fc.option(n, { nil: undefined }),
    reject: fc.option(fc.boolean(), { nil: undefined }),
    entryTerms: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 4 }),
    snapshot: snapshotMeta,
  })
  .map(({ entryTerms, snapshot, commit, reject, ...m }) => ({
    ...m,
    ...(commit === undefined ? {} : { commit }),
    ...(reject === undefined ? {} : { reject }),
    ...(m.type === MessageType.Snapshot ? { snapshot } : {}),
    ...(m.type === MessageType.Append
      ? {
          entries: entryTerms.map((t, i) => ({
            index: m.index + 1 + i,
            term: Math.min(t, m.term),
            kind: i % 2 === 0 ? EntryKind.Normal : EntryKind.NoOp,
            ...(i % 2 === 0 ? { data: new Uint8Array([i]) } : {}),
          })),
        }
      : {}),
  }));

const validFrame = fc.oneof(
  message.map((m) => ({ k: 'raft', m })),
  fc.record({
    k: fc.constant('snap'),
    meta: snapshotMeta,
    seq: n,
    data: fc.uint8Array({ maxLength: 64 }),
    last: fc.boolean(),
  }),
  fc.record({ k: fc.constant('snap-abort'), index: n }),
);

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

describe('decodeRaftFrame', () => {
  it('accepts well-formed frames, also after a msgpack round trip', () => {
    fc.assert(
      fc.property(validFrame, (f) => {
        expect(decodeRaftFrame(f)).toBe(f);
        const back = unpackr.unpack(packr.pack(f));
        expect(() => decodeRaftFrame(back)).not.toThrow();
      }),
      { numRuns: RUNS },
    );
  });

  it('anything at all: a RaftFrame or MalformedRaftFrameError', () => {
    fc.assert(
      fc.property(
        fc.anything({ withTypedArray: true, withBigInt: true, withMap: true, withSet: true }),
        (v) => {
          const err = thrownBy(() => decodeRaftFrame(v));
          if (err !== undefined) expect(typedError(err, [MalformedRaftFrameError])).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a field replaced by a value of any type: accepted only when still well-formed', () => {
    fc.assert(
      fc.property(
        validFrame,
        fc.nat(),
        fc.anything({ withTypedArray: true, withBigInt: true }),
        (f, pick, v) => {
          const bad = replaceAt(f, pick, v);
          const err = thrownBy(() => decodeRaftFrame(bad));
          if (err !== undefined) expect(typedError(err, [MalformedRaftFrameError])).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('mutated encodings: a decode error or a checked frame', () => {
    fc.assert(
      fc.property(validFrame, mutations, (f, ms) => {
        let value: unknown;
        try {
          value = unpackr.unpack(mutate(packr.pack(f), ms));
        } catch {
          return; // the wire decoder turns these into MalformedFrameError (see wire-frame.test.ts)
        }
        const err = thrownBy(() => decodeRaftFrame(value));
        if (err !== undefined) expect(typedError(err, [MalformedRaftFrameError])).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses entry runs that are not contiguous after index, and terms above the message term', () => {
    const base = { k: 'raft', m: { type: 'Append', from: 2, to: 1, term: 3, index: 5, commit: 5 } };
    const entry = (index: number, term = 3) => ({ index, term, kind: EntryKind.NoOp });
    expect(() => decodeRaftFrame({ ...base, m: { ...base.m, entries: [entry(6), entry(8)] } })).toThrow(
      MalformedRaftFrameError,
    );
    expect(() => decodeRaftFrame({ ...base, m: { ...base.m, entries: [entry(6, 4)] } })).toThrow(
      MalformedRaftFrameError,
    );
    expect(() => decodeRaftFrame({ ...base, m: { ...base.m, entries: [entry(6), entry(7)] } })).not.toThrow();
  });
});
