/**
 * Group commit of ZooKeeper-era offset writes (ZkAdminWrites): after a commitOffsets call comes back,
 * the next one gathers the writers it answered, so closed-loop writers share one call per round
 * instead of splitting into halves that take turns; a writer that went away costs one bounded wait;
 * a lone writer never waits.
 */
import type { ApiName, ApiRequest, ApiResponse } from '@kbroker/client/protocol';
import { type Stat, type WriteContext, type ZnodeTreeSnapshot, zxidOf } from '@kbroker/zk-view';
import { describe, expect, it } from 'vitest';
import { type ControllerCall, ZkAdminWrites } from '../src/node/zk-writes.js';

const STAT: Stat = {
  czxid: 1n,
  mzxid: 1n,
  ctime: 0n,
  mtime: 0n,
  version: 0,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: 0n,
  dataLength: 1,
  numChildren: 0,
  pzxid: 1n,
};

/** Every offset znode exists (the precondition of setData). */
const snapshot: ZnodeTreeSnapshot = {
  zxid: 1n,
  get: (path) => (path.startsWith('/consumers/') ? { data: null, stat: STAT } : undefined),
  children: () => undefined,
};
const ctx: WriteContext = { sessionId: 1n, authIds: [], multi: false, snapshot };

/** A controller whose commitOffsets calls answer after a macrotask; records each call's partitions. */
function fakeController(): { call: ControllerCall; calls: number[][] } {
  const calls: number[][] = [];
  let offset = 10;
  const call = (async <A extends ApiName>(api: A, body: ApiRequest<A>): Promise<ApiResponse<A>> => {
    if (api !== 'commitOffsets') throw new Error(`unexpected ${api}`);
    const req = body as ApiRequest<'commitOffsets'>;
    calls.push(req.offsets.map((o) => o.partition));
    await new Promise((r) => setImmediate(r));
    const res = {
      offset: ++offset,
      offsets: req.offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        errorCode: 0,
        errorMessage: null,
        error: null,
      })),
    };
    return res as unknown as ApiResponse<A>;
  }) as ControllerCall;
  return { call, calls };
}

const setData = (writes: ZkAdminWrites, partition: number, value: number) =>
  writes.write(
    [
      {
        op: 'setData',
        opCode: 5,
        path: `/consumers/g/offsets/t/${partition}`,
        data: Buffer.from(String(value)),
        version: -1,
      },
    ],
    ctx,
  );

/** A writer's turnaround between its answer and its next write: 0-2 ms, different for each. */
const turnaround = (writer: number, round: number) =>
  new Promise((r) => setTimeout(r, (writer * 7 + round * 3) % 3));

async function closedLoop(writes: ZkAdminWrites, writers: number, rounds: number): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let round = 0; round < rounds; round++) {
        const res = await setData(writes, w, round);
        expect(res.ok).toBe(true);
        await turnaround(w, round);
      }
    }),
  );
}

describe('group commit of offset writes', () => {
  it('gathers the writers a call answered into the next call', async () => {
    const { call, calls } = fakeController();
    // A long bound: every wait in this test ends because the writers came back.
    const writes = new ZkAdminWrites({ call, commitGatherMs: 3000 });
    await closedLoop(writes, 8, 20);
    expect(calls.flat()).toHaveLength(160);
    // Once together the writers stay together: one call per round (the first call takes all eight,
    // as they start at once). Without gathering (commitGatherMs 0) this loop makes 30-34 calls.
    expect(calls.length).toBeLessThanOrEqual(23);
    expect(calls.slice(-10).every((c) => c.length === 8)).toBe(true);
  });

  it('a writer that went away costs one bounded wait; a lone writer never waits', async () => {
    const { call, calls } = fakeController();
    const writes = new ZkAdminWrites({ call, commitGatherMs: 20 });
    await closedLoop(writes, 4, 5);
    // Two of the four go on: the first call after the others left waits out the bound, then the
    // calls expect two.
    await closedLoop(writes, 2, 5);
    expect(calls.flat()).toHaveLength(30);
    expect(calls.at(-1)).toHaveLength(2);

    // One writer, a bound whose waits would outlast the test: its next write ends each wait.
    const lone = fakeController();
    const alone = new ZkAdminWrites({ call: lone.call, commitGatherMs: 3000 });
    for (let i = 0; i < 20; i++) {
      const res = await setData(alone, 0, i);
      expect(res).toEqual({ ok: true, zxid: zxidOf(lone.calls.length + 10) });
    }
    expect(lone.calls).toHaveLength(20);
  });
});
