import { describe, expect, it } from 'vitest';
import { Kbroker } from '../src/index.js';
import { FakeBroker, wireError } from './helpers/fake-broker.js';

/** The handles that keep a process alive and that the client could leak: sockets, servers, timers. */
function handles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCP|Timeout|Immediate/.test(r))
    .sort();
}

/** What `now` holds beyond `before` (a multiset difference): handles opened and not closed since. */
function added(before: readonly string[], now: readonly string[]): string[] {
  const left = [...before];
  return now.filter((h) => {
    const i = left.indexOf(h);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

describe('disconnect', () => {
  it('leaves no socket or timer behind, whatever was in flight', async () => {
    const before = handles();
    const broker = await FakeBroker.start();
    broker.on('listTopics', () => 'ignore');
    broker.on('describeTopics', () => wireError('LEADER_NOT_AVAILABLE', 5, true));
    broker.on('watch', (req) => {
      req.conn.send({ id: req.id, body: { watch: 1, offset: 0 } });
      req.conn.event(1, [{ offset: 1, type: 'broker-registered', brokerId: 1 }]);
      return 'ignore';
    });
    broker.on('unwatch', () => ({ body: {} }));
    const kbroker = new Kbroker({
      brokers: [broker.address],
      retry: { retries: 100, initialRetryTimeMs: 60_000, maxRetryTimeMs: 60_000 },
    });
    const admin = kbroker.admin();
    await admin.connect();
    const watch = kbroker.metadata().watch({ fromOffset: 0 });
    const it = watch[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ offset: 1 });
    // A request awaiting its answer (a 30 s timer), and one sleeping before its next retry (60 s).
    const inflight = kbroker
      .rpc()
      .request('listTopics', {})
      .catch((e: unknown) => e);
    const sleeping = admin.describeTopics({ topics: ['a'] }).catch((e: unknown) => e);
    await broker.waitFor('listTopics');
    await broker.waitFor('describeTopics');

    await kbroker.disconnect();
    await inflight;
    await sleeping;
    expect(await it.next()).toEqual({ done: true, value: undefined });
    // The client's sockets are closed; the broker's ends close as they see it.
    await broker.waitForNoConnections();
    // Only the fake broker's server is left of what this test opened (the runner's own timers may come
    // and go meanwhile, so compare what was added, not the whole list).
    expect(added(before, handles())).toEqual(['TCPServerWrap']);
    await broker.close();
    // libuv releases the server's handle in the close phase after its 'close' event: one loop turn.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(added(before, handles())).toEqual([]);
  });
});
