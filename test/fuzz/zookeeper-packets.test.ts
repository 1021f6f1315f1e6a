/**
 * Hostile ZooKeeper packets: the jute frame splitter and every record reader of the client protocol,
 * fed random bytes and mutated valid packets. Only JuteError may come out; a declared length over
 * jute.maxbuffer is refused from its 4 bytes alone, before anything is allocated for it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JuteError } from '../../packages/zk-view/src/jute/errors.js';
import { FrameDecoder } from '../../packages/zk-view/src/jute/frame.js';
import { JuteReader } from '../../packages/zk-view/src/jute/reader.js';
import * as records from '../../packages/zk-view/src/jute/records.js';
import { JuteWriter } from '../../packages/zk-view/src/jute/writer.js';
import { mutate, mutations, RUNS, thrownBy, typedError } from './helpers.js';

const MAX = 4096;

const READERS: Record<string, (r: JuteReader) => unknown> = {
  connectRequest: records.readConnectRequest,
  connectResponse: records.readConnectResponse,
  requestHeader: records.readRequestHeader,
  replyHeader: records.readReplyHeader,
  multiHeader: records.readMultiHeader,
  watcherEvent: records.readWatcherEvent,
  authPacket: records.readAuthPacket,
  pathWatch: records.readPathWatchRequest,
  path: records.readPathRequest,
  pathInt: records.readPathIntRequest,
  setWatches: (r) => records.readSetWatches(r, false),
  setWatches2: (r) => records.readSetWatches(r, true),
  create: (r) => records.readCreateRequest(r, false),
  createTtl: (r) => records.readCreateRequest(r, true),
  pathVersion: records.readPathVersionRequest,
  setData: records.readSetDataRequest,
  setAcl: records.readSetAclRequest,
  reconfig: records.readReconfigRequest,
  clientInfo: records.readClientInfo,
  children: records.readChildren,
  stat: records.readStat,
  acl: records.readAcl,
};

/** Valid packets to mutate: what real clients send. */
function validPackets(): Buffer[] {
  const out: Buffer[] = [];
  const add = (write: (w: JuteWriter) => void) => {
    const w = new JuteWriter(256);
    w.int(0); // the length, filled in by frame()
    write(w);
    out.push(Buffer.from(w.frame()));
  };
  add((w) =>
    records.writeConnectRequest(w, {
      protocolVersion: 0,
      lastZxidSeen: 5n,
      timeOut: 30000,
      sessionId: 0n,
      passwd: new Uint8Array(16),
      readOnly: false,
    }),
  );
  add((w) => {
    records.writeRequestHeader(w, { xid: 1, type: 1 });
    records.writeCreateRequest(w, {
      path: '/config/topics/t',
      data: new Uint8Array([123, 125]),
      acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }],
      flags: 0,
    });
  });
  add((w) => {
    records.writeRequestHeader(w, { xid: 2, type: 101 });
    records.writeSetWatches(
      w,
      { relativeZxid: 1n, dataWatches: ['/a'], existWatches: [], childWatches: ['/b'] },
      false,
    );
  });
  add((w) => {
    records.writeRequestHeader(w, { xid: 3, type: 14 });
    records.writeMultiHeader(w, { type: 5, done: false, err: -1 });
    records.writeSetDataRequest(w, { path: '/x', data: new Uint8Array(8), version: -1 });
  });
  return out;
}

describe('ZooKeeper packet decoding under hostile input', () => {
  const valid = validPackets();

  it('every record reader, on random bytes: a record or a JuteError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(READERS)),
        fc.uint8Array({ maxLength: 512 }),
        (name, bytes) => {
          const err = thrownBy(() => READERS[name]!(new JuteReader(bytes, MAX)));
          if (err !== undefined) expect(typedError(err, [JuteError])).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('every record reader, on mutated valid packets: a record or a JuteError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(READERS)),
        fc.constantFrom(...valid),
        mutations,
        (name, packet, ms) => {
          const bytes = mutate(packet, ms);
          // Past the length prefix, as the server reads it (a prefix that lies is the splitter's).
          const err = thrownBy(() => READERS[name]!(new JuteReader(bytes, MAX, Math.min(4, bytes.length))));
          if (err !== undefined) expect(typedError(err, [JuteError])).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the frame splitter on any stream: frames or a JuteError, never more than a frame buffered', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2 * MAX }),
          fc.tuple(fc.constantFrom(...valid), mutations).map(([p, m]) => mutate(p, m)),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, cuts) => {
          const d = new FrameDecoder(MAX);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          let at = 0;
          const err = thrownBy(() => {
            for (const p of [...points, bytes.length]) {
              d.push(Buffer.from(bytes.subarray(at, p)));
              at = p;
            }
          });
          if (err !== undefined) expect(typedError(err, [JuteError])).toBe(true);
          expect(d.buffered).toBeLessThanOrEqual(MAX + 4);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses a declared length over jute.maxbuffer, or below zero, from its 4 bytes alone', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: MAX + 1, max: 0x7fff_ffff }), fc.integer({ min: -0x8000_0000, max: -1 })),
        (len) => {
          const header = Buffer.alloc(4);
          header.writeInt32BE(len);
          const d = new FrameDecoder(MAX);
          const err = thrownBy(() => d.push(header));
          expect(err).toBeInstanceOf(JuteError);
          expect(d.buffered).toBe(0);
          // The readers refuse such lengths before allocating too (-1 is their null).
          if (len === -1) return;
          const inner = Buffer.concat([header, Buffer.alloc(8)]);
          expect(thrownBy(() => new JuteReader(inner, MAX).buffer())).toBeInstanceOf(JuteError);
        },
      ),
      { numRuns: Math.min(RUNS, 500) },
    );
  });

  it('a vector count that cannot fit the frame is refused before its array is built', () => {
    const body = Buffer.alloc(4);
    body.writeInt32BE(MAX); // MAX ACLs of at least 12 bytes each, in a 4-byte body
    const err = thrownBy(() => new JuteReader(body, MAX * 16).vector(records.readAcl, records.ACL_MIN_BYTES));
    expect(err).toBeInstanceOf(JuteError);
  });
});
