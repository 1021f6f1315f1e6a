import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Kbroker, KbrokerError, type MetadataEvent, type MetadataWatch } from '../src/index.js';
import { FakeBroker, type FakeRequest, wireError } from './helpers/fake-broker.js';

const brokers: FakeBroker[] = [];
const clients: Kbroker[] = [];

async function setup(): Promise<{ broker: FakeBroker; kbroker: Kbroker }> {
  const broker = await FakeBroker.start();
  brokers.push(broker);
  const kbroker = new Kbroker({
    brokers: [broker.address],
    retry: { retries: 5, initialRetryTimeMs: 5, maxRetryTimeMs: 20 },
  });
  clients.push(kbroker);
  return { broker, kbroker };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

function ev(offset: number, brokerId = offset): MetadataEvent {
  return { offset, type: 'broker-registered', brokerId };
}

/** Answers a watch request and sends `frames` right after the answer (same tick). */
function answer(req: FakeRequest, watch: number, offset: number, frames: MetadataEvent[][]): 'ignore' {
  req.conn.send({ id: req.id, body: { watch, offset } });
  for (const events of frames) req.conn.event(watch, events);
  return 'ignore';
}

async function take(it: AsyncIterator<MetadataEvent>, n: number): Promise<MetadataEvent[]> {
  const out: MetadataEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('metadata().watch', () => {
  it('delivers each event exactly once, in order, across a broker-side disconnect', async () => {
    const { broker, kbroker } = await setup();
    broker.on('watch', (req) => {
      const n = broker.received('watch').length;
      if (n === 1) return answer(req, 1, 5, [[ev(6)], [ev(7, 1), ev(7, 2)], [ev(8)]]);
      // The resumed watch: the broker replays some already delivered events (7, 8) with new ones.
      return answer(req, 2, 8, [[ev(7, 1), ev(7, 2), ev(8)], [ev(8), ev(9)], [ev(10)]]);
    });
    broker.on('unwatch', () => ({ body: {} }));
    const watch = kbroker.metadata().watch({ fromOffset: 5 });
    const emitted: MetadataEvent[] = [];
    watch.on('event', (e) => emitted.push(e));
    const it = watch[Symbol.asyncIterator]();
    const first = await take(it, 4);
    expect(first.map((e) => e.offset)).toEqual([6, 7, 7, 8]);
    expect(watch.offset).toBe(8);
    expect(broker.received('watch')[0]?.body).toEqual({ fromOffset: 5 });

    broker.dropAll();
    const second = await take(it, 2);
    expect(second.map((e) => e.offset)).toEqual([9, 10]);
    expect(broker.received('watch')[1]?.body).toEqual({ fromOffset: 8 });
    expect(emitted).toEqual([...first, ...second]);
    expect(watch.offset).toBe(10);

    const pending = it.next();
    await watch.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect((await broker.waitFor('unwatch')).body).toEqual({ watch: 2 });
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('starts from the position the broker reports when no fromOffset is given', async () => {
    const { broker, kbroker } = await setup();
    broker.on('watch', (req) => {
      const n = broker.received('watch').length;
      if (n === 1) return answer(req, 1, 20, [[ev(20), ev(21)]]);
      return answer(req, 2, 21, [[ev(22)]]);
    });
    const watch = kbroker.metadata().watch();
    const it = watch[Symbol.asyncIterator]();
    expect((await take(it, 1)).map((e) => e.offset)).toEqual([21]);
    expect(broker.received('watch')[0]?.body).toEqual({});
    broker.dropAll();
    expect((await take(it, 1)).map((e) => e.offset)).toEqual([22]);
    expect(broker.received('watch')[1]?.body).toEqual({ fromOffset: 21 });
  });

  it('works with for await, and breaking out of the loop unwatches', async () => {
    const { broker, kbroker } = await setup();
    broker.on('watch', (req) => answer(req, 3, 0, [[ev(1), ev(2), ev(3)]]));
    broker.on('unwatch', () => ({ body: {} }));
    const seen: number[] = [];
    for await (const e of kbroker.metadata().watch({ fromOffset: 0 })) {
      seen.push(e.offset);
      if (e.offset === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect((await broker.waitFor('unwatch')).body).toEqual({ watch: 3 });
  });

  it('fails on a non-retriable error: the iterator throws and error listeners are told', async () => {
    const { broker, kbroker } = await setup();
    broker.on('watch', () => wireError('OFFSET_OUT_OF_RANGE', 1, false));
    const watch: MetadataWatch = kbroker.metadata().watch({ fromOffset: 1 });
    const errors: Error[] = [];
    watch.on('error', (e) => errors.push(e));
    const it = watch[Symbol.asyncIterator]();
    const err = await it.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KbrokerError);
    expect(err).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    expect(errors).toEqual([err]);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('unwatches a watch closed before the broker answered', async () => {
    const { broker, kbroker } = await setup();
    let release: (() => void) | undefined;
    broker.on('watch', (req) => {
      release = () => answer(req, 4, 0, [[ev(1)]]);
      return 'ignore';
    });
    broker.on('unwatch', () => ({ body: {} }));
    const watch = kbroker.metadata().watch({ fromOffset: 0 });
    const emitted: MetadataEvent[] = [];
    watch.on('event', (e) => emitted.push(e));
    await broker.waitFor('watch');
    await watch.close();
    release?.();
    expect((await broker.waitFor('unwatch')).body).toEqual({ watch: 4 });
    expect(emitted).toEqual([]);
  });

  it('refuses a bad fromOffset', async () => {
    const { kbroker } = await setup();
    expect(() => kbroker.metadata().watch({ fromOffset: 1.5 })).toThrow(KbrokerError);
  });
});

describe('metadata().watch exactly once (property)', () => {
  /**
   * The broker holds a log of batches (one offset, 1..3 events each). Each connection's watch resumes
   * some batches before the requested offset (duplicates), sends whole batches in frames of 1..3, and
   * after a scripted number of frames drops the connection. Whatever the script, the client yields the
   * log's events exactly once, in order.
   */
  it('yields every event once, in order, whatever the broker replays and wherever it drops', async () => {
    const batch = fc.record({ gap: fc.integer({ min: 1, max: 3 }), events: fc.integer({ min: 1, max: 3 }) });
    const connScript = fc.record({
      replay: fc.integer({ min: 0, max: 3 }),
      frameBatches: fc.integer({ min: 1, max: 3 }),
      framesBeforeDrop: fc.integer({ min: 1, max: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(batch, { minLength: 1, maxLength: 12 }),
        fc.array(connScript, { maxLength: 5 }),
        async (batchSpecs, scripts) => {
          const { broker, kbroker } = await setup();
          try {
            let offset = 0;
            const log = batchSpecs.map((b) => {
              offset += b.gap;
              const at = offset;
              return Array.from({ length: b.events }, (_, i) => ev(at, i));
            });
            const all = log.flat();
            let watchId = 0;
            broker.on('watch', (req) => {
              const from: number = req.body.fromOffset;
              const script = scripts[watchId];
              watchId++;
              const next = log.findIndex((b) => (b[0]?.offset ?? 0) > from);
              const start = Math.max(0, (next < 0 ? log.length : next) - (script?.replay ?? 0));
              req.conn.send({ id: req.id, body: { watch: watchId, offset: from } });
              let frames = 0;
              for (let i = start; i < log.length; i += script?.frameBatches ?? 1) {
                if (script !== undefined && frames === script.framesBeforeDrop) {
                  req.conn.destroy();
                  return 'ignore';
                }
                req.conn.event(watchId, log.slice(i, i + (script?.frameBatches ?? 1)).flat());
                frames++;
              }
              if (script !== undefined) req.conn.destroy();
              return 'ignore';
            });
            const watch = kbroker.metadata().watch({ fromOffset: 0 });
            const got = await take(watch[Symbol.asyncIterator](), all.length);
            expect(got).toEqual(all);
            expect(watch.offset).toBe(offset);
            await watch.close();
          } finally {
            await Promise.all(clients.splice(0).map((c) => c.disconnect()));
            await Promise.all(brokers.splice(0).map((b) => b.close()));
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
