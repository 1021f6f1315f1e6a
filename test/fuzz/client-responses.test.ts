/**
 * A hostile broker: the client's Connection fed random bytes and mutated or ill-typed answers, to its
 * hello and to a request after it. Whatever comes, `ready` and the request settle with a KbrokerError
 * (or a value when the answer happens to be well-formed), nothing is thrown outside those promises,
 * and the connection ends at most once.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../packages/client/src/connection.js';
import { KbrokerError } from '../../packages/client/src/errors.js';
import { encodeFrame } from '../../packages/wire/src/frame.js';
import { mutate, mutations, RUNS } from './helpers.js';

/** What the fake broker sends on the next connection: the hello answer's bytes, then a request's. */
let script: { hello: Buffer; answer: Buffer; endAfterHello: boolean } = {
  hello: Buffer.alloc(0),
  answer: Buffer.alloc(0),
  endAfterHello: false,
};
let server: net.Server;
let port: number;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  server = net.createServer((socket) => {
    const { hello, answer, endAfterHello } = script;
    let stage = 0;
    socket.on('error', () => undefined);
    socket.on('data', () => {
      // One answer per frame-ish burst from the client: first the hello's, then the request's.
      // A broker that then hangs up; one that hangs up without a word is a ConnectionError too.
      if (stage === 0) {
        if (endAfterHello) socket.end(hello);
        else socket.write(hello);
      } else if (stage === 1) socket.end(answer);
      stage++;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  await new Promise((r) => server.close(r));
});

const goodHello = (id = 1) =>
  encodeFrame({ id, body: { protocolVersion: 1, clusterId: 'c', nodeId: 1, roles: ['broker'] } });

/** A frame of a random value, or a mutation of a well-formed answer. */
const hostile = (id: number) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    fc.anything({ withBigInt: false }).map((v) => {
      try {
        return encodeFrame(v);
      } catch {
        return Buffer.alloc(0);
      }
    }),
    fc
      .record({
        id: fc.oneof(fc.constant(id), fc.anything()),
        body: fc.anything(),
        error: fc.oneof(
          fc.constant(undefined),
          fc.anything(),
          fc.record({ code: fc.anything(), message: fc.anything() }),
        ),
        watch: fc.oneof(fc.constant(undefined), fc.anything()),
        events: fc.oneof(fc.constant(undefined), fc.anything()),
      })
      .map((v) => {
        try {
          return encodeFrame(v);
        } catch {
          return Buffer.alloc(0);
        }
      }),
    mutations.map((m) => mutate(goodHello(id), m)),
  );

async function settle(p: Promise<unknown>): Promise<unknown> {
  try {
    return await p;
  } catch (err) {
    return err;
  }
}

describe('the client facing a hostile broker', () => {
  it('hello answers and request answers of any shape end in values or KbrokerErrors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), hostile(1), hostile(2), async (helloOk, hello, answer) => {
        script = { hello: helloOk ? goodHello() : hello, answer, endAfterHello: !helloOk };
        const conn = Connection.open(
          { host: '127.0.0.1', port },
          { host: '127.0.0.1', port, clientId: 'fuzz', connectionTimeoutMs: 500, requestTimeoutMs: 500 },
        );
        let closes = 0;
        conn.onClose(() => closes++);
        const ready = await settle(conn.ready);
        if (ready instanceof Error) {
          expect(ready).toBeInstanceOf(KbrokerError);
        } else {
          const res = await settle(conn.request('describeCluster', {}));
          if (res instanceof Error) expect(res).toBeInstanceOf(KbrokerError);
        }
        await conn.close();
        expect(closes).toBe(1);
        expect(uncaught).toEqual([]);
      }),
      { numRuns: Math.min(RUNS, 300) },
    );
  });
});
