/**
 * Hostile client RPC frames: the request envelope check of the client listener (`decodeRequestFrame`)
 * on arbitrary values and on valid requests with a field replaced. Only MalformedRequestError may
 * come out, and whatever passes has the envelope's types. (Frames reach it through the wire decoder,
 * fuzzed in wire-frame.test.ts; the listener itself is hammered in test/fuzz/sockets.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequestFrame, MalformedRequestError } from '../../packages/broker/src/node/rpc-server.js';
import { RUNS, thrownBy, typedError } from './helpers.js';

const request = fc.record({
  id: fc.integer({ min: 1, max: 0x7fff_ffff }),
  api: fc.constantFrom('hello', 'describeCluster', 'createTopics', 'watch', 'nope'),
  timeoutMs: fc.option(fc.nat(), { nil: undefined }),
  body: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), {
    nil: undefined,
  }),
});

function checkEnvelope(v: unknown): void {
  const err = thrownBy(() => decodeRequestFrame(v));
  if (err !== undefined) {
    expect(typedError(err, [MalformedRequestError])).toBe(true);
    return;
  }
  const r = v as Record<string, unknown>;
  expect(Number.isSafeInteger(r.id)).toBe(true);
  expect(typeof r.api).toBe('string');
  expect(
    r.body === undefined || r.body === null || (typeof r.body === 'object' && !Array.isArray(r.body)),
  ).toBe(true);
}

describe('client request envelopes under hostile input', () => {
  it('valid requests pass', () => {
    fc.assert(
      fc.property(request, (r) => {
        expect(decodeRequestFrame(r)).toBe(r);
      }),
      { numRuns: RUNS },
    );
  });

  it('anything at all: a request or MalformedRequestError', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true, withBigInt: true, withMap: true }), checkEnvelope),
      {
        numRuns: RUNS,
      },
    );
  });

  it('a valid request with one field replaced by any value', () => {
    fc.assert(
      fc.property(
        request,
        fc.constantFrom('id', 'api', 'timeoutMs', 'body'),
        fc.anything({ withBigInt: true }),
        (r, key, v) => {
          checkEnvelope({ ...r, [key]: v });
        },
      ),
      { numRuns: RUNS },
    );
  });
});
