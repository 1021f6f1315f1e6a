// The server at the byte level, through the package's own jute code.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AddWatchMode, ErrorCode, EventType, OpCode, WatcherType, Xid } from '../src/jute/constants.js';
import type { JuteReader } from '../src/jute/reader.js';
import {
  readChildren,
  readClientInfo,
  readStat,
  readWatcherEvent,
  writeAuthPacket,
  writeCreateRequest,
  writeMultiHeader,
  writePathIntRequest,
  writePathVersionRequest,
  writePathWatchRequest,
  writeSetDataRequest,
  writeSetWatches,
} from '../src/jute/records.js';
import { JuteWriter } from '../src/jute/writer.js';
import { InMemorySessionStore } from '../src/server/index.js';
import { kafkaTree } from './helpers/memory-tree.js';
import { RawClient } from './helpers/raw-client.js';
import { sleep, startServer, stopServers } from './helpers/server.js';

const raws: RawClient[] = [];
async function session(port: number, opts: Parameters<typeof RawClient.session>[1] = {}) {
  const s = await RawClient.session(port, opts);
  raws.push(s.client);
  return s;
}

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await stopServers();
});

const path =
  (p: string, watch = false) =>
  (w: JuteWriter) =>
    writePathWatchRequest(w, { path: p, watch });

async function getData(c: RawClient, xid: number, p: string, watch = false) {
  c.request(xid, OpCode.getData, path(p, watch));
  return c.reply();
}

function readEvent(body: JuteReader) {
  return readWatcherEvent(body);
}

describe('handshake', () => {
  it('creates a session with a 16-byte password; the readOnly byte is echoed only to clients that send one', async () => {
    const { port } = await startServer();
    const old = await session(port);
    expect(old.response.sessionId).not.toBe(0n);
    expect(old.response.passwd).toHaveLength(16);
    expect(old.response.timeOut).toBe(10_000);
    expect(old.response.readOnly).toBeUndefined();
    const modern = await session(port, { readOnly: false });
    expect(modern.response.readOnly).toBe(false);
  });

  it('resumes a session with its password; a wrong password gets timeOut 0 and a close', async () => {
    const { port } = await startServer();
    const first = await session(port);
    const good = await session(port, { sessionId: first.response.sessionId, passwd: first.response.passwd! });
    expect(good.response.sessionId).toBe(first.response.sessionId);
    expect(good.response.timeOut).toBe(10_000);
    // The first connection was replaced by the second.
    await first.client.waitClosed();
    const bad = await session(port, {
      sessionId: first.response.sessionId,
      passwd: new Uint8Array(16).fill(7),
    });
    expect(bad.response.timeOut).toBe(0);
    expect(bad.response.sessionId).toBe(0n);
    await bad.client.waitClosed();
    const unknown = await session(port, { sessionId: 12345n, passwd: new Uint8Array(16) });
    expect(unknown.response.timeOut).toBe(0);
  });

  it('a client that has seen a newer zxid waits for the tree to catch up', async () => {
    const { port, tree } = await startServer({ catchUpTimeoutMs: 2000 });
    const ahead = tree.current().zxid + 2n;
    const pending = session(port, { lastZxidSeen: ahead });
    await sleep(50);
    tree.tick();
    tree.setData('/controller_epoch', '9');
    const { client, response } = await pending;
    expect(response.timeOut).toBe(10_000);
    const r = await getData(client, 1, '/controller_epoch');
    expect(r.header.zxid).toBe(ahead);
    expect(new TextDecoder().decode(r.body.buffer()!)).toBe('9');
  });

  it('a client that has seen a newer zxid is refused (connection closed) when the tree does not catch up', async () => {
    const { port, tree } = await startServer({ catchUpTimeoutMs: 100 });
    const client = await RawClient.open(port);
    raws.push(client);
    const w = new JuteWriter();
    w.int(0)
      .int(0)
      .long(tree.current().zxid + 5n)
      .int(10_000)
      .long(0n)
      .buffer(new Uint8Array(16));
    client.send(w.frame());
    await client.waitClosed(3000);
  });
});

describe('requests', () => {
  it('answers pings with xid -2 and the served zxid', async () => {
    const { port, tree } = await startServer();
    const { client } = await session(port);
    client.request(Xid.ping, OpCode.ping);
    const r = await client.reply();
    expect(r.header).toEqual({ xid: -2, zxid: tree.current().zxid, err: 0 });
  });

  it('unknown opcodes get UNIMPLEMENTED and the connection goes on', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    client.request(5, 9999, (w) => w.int(1));
    expect((await client.reply()).header).toMatchObject({ xid: 5, err: ErrorCode.UNIMPLEMENTED });
    const r = await getData(client, 6, '/controller_epoch');
    expect(r.header).toMatchObject({ xid: 6, err: 0 });
  });

  it('invalid paths: reads find no znode, writes get BADARGUMENTS, as a real ZooKeeper answers', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    let xid = 1;
    // ZooKeeper's reads look the path up without validating it; its DataTree also keys the root as ''.
    expect((await getData(client, xid++, '')).header.err).toBe(0);
    for (const p of ['brokers', '/brokers/', '/brokers//ids', '/brokers/./ids', '/a\u0000b', '/x/..']) {
      expect((await getData(client, xid++, p)).header.err).toBe(ErrorCode.NONODE);
    }
    // exists alone refuses a NUL.
    client.request(xid++, OpCode.exists, (w) =>
      writePathWatchRequest(w, { path: '/a\u0000b', watch: false }),
    );
    expect((await client.reply()).header.err).toBe(ErrorCode.BADARGUMENTS);
    client.request(xid++, OpCode.setData, (w) => w.ustring('/brokers/').buffer(null).int(-1));
    expect((await client.reply()).header.err).toBe(ErrorCode.BADARGUMENTS);
    expect((await getData(client, xid++, '/brokers')).header.err).toBe(0);
  });

  it('a malformed body gets MARSHALLINGERROR; the connection goes on', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    // getData whose path length runs past the frame.
    client.request(1, OpCode.getData, (w) => w.int(500).int(0));
    expect((await client.reply()).header).toMatchObject({ xid: 1, err: ErrorCode.MARSHALLINGERROR });
    // A vector count far beyond the frame: refused before allocating.
    client.request(2, OpCode.setWatches, (w) => w.long(0n).int(0x7ffff).int(0).int(0));
    expect((await client.reply()).header).toMatchObject({ xid: 2, err: ErrorCode.MARSHALLINGERROR });
    expect((await getData(client, 3, '/brokers')).header.err).toBe(0);
  });

  it('a frame declaring more than maxBuffer closes only that connection', async () => {
    const { port } = await startServer({ maxBufferBytes: 1024 });
    const { client: victim } = await session(port);
    const { client: bystander } = await session(port);
    const w = new JuteWriter();
    w.int(2000);
    victim.send(w.bytes());
    await victim.waitClosed();
    expect((await getData(bystander, 1, '/brokers')).header.err).toBe(0);
    // The limit also holds before the handshake, and for negative lengths.
    const pre = await RawClient.open(port);
    raws.push(pre);
    pre.send(Buffer.from([0xff, 0xff, 0xff, 0xf0]));
    await pre.waitClosed();
  });

  it('a request shorter than its header closes the connection', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    client.send(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
    await client.waitClosed();
  });

  it('frames split into single bytes and pipelined requests are answered in order', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    const w = new JuteWriter();
    const all: Buffer[] = [];
    for (let xid = 1; xid <= 20; xid++) {
      const f = new JuteWriter();
      f.int(0).int(xid).int(OpCode.exists);
      writePathWatchRequest(f, { path: xid % 2 ? '/brokers' : '/nope', watch: false });
      all.push(Buffer.from(f.frame()));
    }
    void w;
    const bytes = Buffer.concat(all);
    for (const b of bytes) client.send(Buffer.from([b]));
    for (let xid = 1; xid <= 20; xid++) {
      const r = await client.reply();
      expect(r.header.xid).toBe(xid);
      expect(r.header.err).toBe(xid % 2 ? 0 : ErrorCode.NONODE);
    }
  });

  it('getAllChildrenNumber, getEphemerals, getChildren2 and sync', async () => {
    const sync = { calls: 0 };
    const { port, tree } = await startServer({
      sync: async () => {
        sync.calls++;
        return tree.current().zxid;
      },
    });
    const { client } = await session(port);
    client.request(1, OpCode.getAllChildrenNumber, (w) => w.ustring('/brokers'));
    let r = await client.reply();
    // ids, 1, 2, 3, seqid, topics, orders, partitions, 0, state
    expect(r.body.int()).toBe(10);
    client.request(2, OpCode.getEphemerals, (w) => w.ustring('/'));
    r = await client.reply();
    expect(readChildren(r.body)).toEqual([]);
    client.request(3, OpCode.getChildren2, path('/brokers/ids'));
    r = await client.reply();
    expect(readChildren(r.body).sort()).toEqual(['1', '2', '3']);
    expect(readStat(r.body).numChildren).toBe(3);
    client.request(4, OpCode.sync, (w) => w.ustring('/brokers'));
    r = await client.reply();
    expect(r.header.err).toBe(0);
    expect(r.body.ustring()).toBe('/brokers');
    expect(sync.calls).toBe(1);
  });

  it('multiRead answers each read, errors per op', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    client.request(1, OpCode.multiRead, (w) => {
      writeMultiHeader(w, { type: OpCode.getData, done: false, err: -1 });
      writePathWatchRequest(w, { path: '/controller_epoch', watch: false });
      writeMultiHeader(w, { type: OpCode.getChildren, done: false, err: -1 });
      writePathWatchRequest(w, { path: '/brokers/ids', watch: false });
      writeMultiHeader(w, { type: OpCode.getData, done: false, err: -1 });
      writePathWatchRequest(w, { path: '/missing', watch: false });
      writeMultiHeader(w, { type: -1, done: true, err: -1 });
    });
    const { header, body } = await client.reply();
    expect(header.err).toBe(0);
    expect([body.int(), body.bool(), body.int()]).toEqual([OpCode.getData, false, 0]);
    expect(new TextDecoder().decode(body.buffer()!)).toBe('3');
    readStat(body);
    expect([body.int(), body.bool(), body.int()]).toEqual([OpCode.getChildren, false, 0]);
    expect(readChildren(body).sort()).toEqual(['1', '2', '3']);
    expect([body.int(), body.bool(), body.int()]).toEqual([-1, false, ErrorCode.NONODE]);
    expect(body.int()).toBe(ErrorCode.NONODE);
    expect([body.int(), body.bool(), body.int()]).toEqual([-1, true, -1]);
  });

  it('auth: digest is recorded (whoAmI shows it), sasl is refused, unknown schemes fail and close', async () => {
    const { port } = await startServer();
    const { client } = await session(port);
    client.request(Xid.auth, OpCode.auth, (w) =>
      writeAuthPacket(w, { type: 0, scheme: 'digest', auth: new TextEncoder().encode('alice:secret') }),
    );
    expect((await client.reply()).header).toMatchObject({ xid: Xid.auth, err: 0 });
    client.request(1, OpCode.whoAmI);
    const r = await client.reply();
    const infos = r.body.vector(readClientInfo, 8);
    expect(infos).toEqual([
      { authScheme: 'ip', user: '127.0.0.1' },
      { authScheme: 'digest', user: 'alice' },
    ]);
    client.request(2, OpCode.sasl, (w) => w.buffer(new Uint8Array(4)));
    expect((await client.reply()).header).toMatchObject({ xid: 2, err: ErrorCode.AUTHFAILED });
    client.request(Xid.auth, OpCode.auth, (w) =>
      writeAuthPacket(w, { type: 0, scheme: 'kerberos', auth: null }),
    );
    expect((await client.reply()).header).toMatchObject({ xid: Xid.auth, err: ErrorCode.AUTHFAILED });
    await client.waitClosed();
  });

  it('closeSession answers, closes, and ends the session in the store', async () => {
    const sessions = new InMemorySessionStore();
    const { port } = await startServer({ sessions });
    const { client, response } = await session(port);
    expect(sessions.has(response.sessionId)).toBe(true);
    client.request(1, OpCode.closeSession);
    expect((await client.reply()).header).toMatchObject({ xid: 1, err: 0 });
    await client.waitClosed();
    expect(sessions.has(response.sessionId)).toBe(false);
    sessions.dispose();
  });

  it('a silent session expires and its connection is closed', async () => {
    const sessions = new InMemorySessionStore({ checkIntervalMs: 20 });
    const { port } = await startServer({ sessions, tickTimeMs: 100 });
    const { client, response } = await session(port, { timeOut: 200 });
    expect(response.timeOut).toBe(200);
    await client.waitClosed(3000);
    // The connection's idle timer and the store's expiry check run apart: wait for the expiry.
    await vi.waitFor(() => expect(sessions.has(response.sessionId)).toBe(false), { timeout: 5000 });
    sessions.dispose();
  });
});

describe('writes through a handler', () => {
  it('multi failure reports per-op results: OK before, the error at, RUNTIMEINCONSISTENCY after', async () => {
    const { port } = await startServer({
      writeHandler: { write: async () => ({ ok: false, error: ErrorCode.BADVERSION, failedIndex: 1 }) },
    });
    const { client } = await session(port);
    client.request(1, OpCode.multi, (w) => {
      writeMultiHeader(w, { type: OpCode.check, done: false, err: -1 });
      writePathVersionRequest(w, { path: '/controller_epoch', version: 0 });
      writeMultiHeader(w, { type: OpCode.setData, done: false, err: -1 });
      writeSetDataRequest(w, { path: '/controller_epoch', data: new Uint8Array([52]), version: 9 });
      writeMultiHeader(w, { type: OpCode.delete, done: false, err: -1 });
      writePathVersionRequest(w, { path: '/controller', version: -1 });
      writeMultiHeader(w, { type: -1, done: true, err: -1 });
    });
    const { header, body } = await client.reply();
    expect(header.err).toBe(0);
    const codes: number[] = [];
    for (;;) {
      const [type, done, err] = [body.int(), body.bool(), body.int()];
      if (done) break;
      expect(type).toBe(-1);
      expect(body.int()).toBe(err);
      codes.push(err);
    }
    expect(codes).toEqual([0, ErrorCode.BADVERSION, ErrorCode.RUNTIMEINCONSISTENCY]);
  });

  it('create2 returns the created path and stat; chroot is stripped for the handler and added back', async () => {
    const tree = kafkaTree();
    const { port } = await startServer({
      tree,
      chroot: '/kafka',
      writeHandler: {
        write: async (ops) => {
          const op = ops[0]!;
          if (op.op !== 'create') throw new Error('unexpected');
          const real = `${op.path}0000000001`;
          tree.create(real, op.data);
          return { ok: true, zxid: tree.current().zxid, results: [{ path: real }] };
        },
      },
    });
    const { client } = await session(port);
    client.request(1, OpCode.create2, (w) =>
      writeCreateRequest(w, { path: '/kafka/config/changes/config_change_', data: null, acl: [], flags: 2 }),
    );
    const { header, body } = await client.reply();
    expect(header.err).toBe(0);
    expect(body.ustring()).toBe('/kafka/config/changes/config_change_0000000001');
    expect(readStat(body).czxid).toBe(tree.current().zxid);
    // Outside the chroot nothing is writable.
    client.request(2, OpCode.create, (w) =>
      writeCreateRequest(w, { path: '/other', data: null, acl: [], flags: 0 }),
    );
    expect((await client.reply()).header.err).toBe(ErrorCode.NOAUTH);
  });

  it('answers a write once the tree shows it; a write it never shows drops only its connection', async () => {
    const tree = kafkaTree();
    const start = tree.current().zxid;
    const { port } = await startServer({
      tree,
      writeVisibilityTimeoutMs: 300,
      writeHandler: {
        // /brokers is written at a zxid the tree never reaches, /controller_epoch at the next one.
        write: async (ops) => ({ ok: true, zxid: ops[0]!.path === '/brokers' ? start + 1000n : start + 1n }),
      },
    });
    const lost = (await session(port)).client;
    const seen = (await session(port)).client;
    lost.request(1, OpCode.setData, (w) =>
      writeSetDataRequest(w, { path: '/brokers', data: null, version: -1 }),
    );
    seen.request(1, OpCode.setData, (w) =>
      writeSetDataRequest(w, { path: '/controller_epoch', data: null, version: -1 }),
    );
    const answered = seen.reply();
    // Both wait (neither zxid is served yet); the tree then reaches the second one's.
    await sleep(50);
    tree.setData('/controller_epoch', '3');
    const { header } = await answered;
    expect(header.err).toBe(0);
    expect(header.zxid).toBe(start + 1n);
    await lost.waitClosed(3000);
    // The server goes on: the other connection still reads.
    expect((await getData(seen, 2, '/controller_epoch')).header.err).toBe(0);
  });

  it('a handler that throws gets SYSTEMERROR; the connection goes on', async () => {
    const { port } = await startServer({
      writeHandler: {
        write: async () => {
          throw new Error('boom');
        },
      },
    });
    const { client } = await session(port);
    client.request(1, OpCode.setData, (w) =>
      writeSetDataRequest(w, { path: '/controller_epoch', data: null, version: -1 }),
    );
    expect((await client.reply()).header.err).toBe(ErrorCode.SYSTEMERROR);
    expect((await getData(client, 2, '/brokers')).header.err).toBe(0);
  });
});

describe('persistent watches and watch management', () => {
  it('a persistent watch sees every event on its path and stays', async () => {
    const { port, tree } = await startServer();
    const { client } = await session(port);
    client.request(1, OpCode.addWatch, (w) =>
      writePathIntRequest(w, { path: '/brokers/ids', value: AddWatchMode.Persistent }),
    );
    const added = await client.reply();
    expect(added.header.err).toBe(0);
    expect(added.body.int()).toBe(0);
    tree.delete('/brokers/ids/1');
    tree.create('/brokers/ids/1', '{}');
    tree.setData('/brokers/ids', 'x');
    const events = [];
    for (let i = 0; i < 3; i++) {
      const r = await client.reply();
      expect(r.header.xid).toBe(Xid.notification);
      expect(r.header.zxid).toBe(-1n);
      events.push(readEvent(r.body));
    }
    expect(events.map((e) => [e.type, e.path])).toEqual([
      [EventType.NodeChildrenChanged, '/brokers/ids'],
      [EventType.NodeChildrenChanged, '/brokers/ids'],
      [EventType.NodeDataChanged, '/brokers/ids'],
    ]);
    expect(events.every((e) => e.state === 3)).toBe(true);
  });

  it('a persistent recursive watch sees created/deleted/data events below it, not children events', async () => {
    const { port, tree } = await startServer();
    const { client } = await session(port);
    client.request(1, OpCode.addWatch, (w) =>
      writePathIntRequest(w, { path: '/brokers', value: AddWatchMode.PersistentRecursive }),
    );
    expect((await client.reply()).header.err).toBe(0);
    tree.create('/brokers/topics/t2', '{}');
    tree.setData('/brokers/topics/orders', '{"v":2}');
    tree.delete('/brokers/ids/3');
    tree.setData('/controller', '{}'); // outside: not seen
    const events = [];
    for (let i = 0; i < 3; i++) events.push(readEvent((await client.reply()).body));
    expect(events.map((e) => [e.type, e.path])).toEqual([
      [EventType.NodeCreated, '/brokers/topics/t2'],
      [EventType.NodeDataChanged, '/brokers/topics/orders'],
      [EventType.NodeDeleted, '/brokers/ids/3'],
    ]);
    // Nothing else is pending: the next reply is the ping's.
    client.request(Xid.ping, OpCode.ping);
    expect((await client.reply()).header.xid).toBe(Xid.ping);
  });

  it('checkWatches and removeWatches, with NOWATCHER when there is none', async () => {
    const { port, tree, server } = await startServer();
    const { client } = await session(port);
    await getData(client, 1, '/controller', true);
    client.request(2, OpCode.getChildren, path('/brokers/ids', true));
    await client.reply();
    expect(server.watchCount).toBe(2);
    client.request(3, OpCode.checkWatches, (w) =>
      writePathIntRequest(w, { path: '/controller', value: WatcherType.Data }),
    );
    expect((await client.reply()).header.err).toBe(0);
    client.request(4, OpCode.checkWatches, (w) =>
      writePathIntRequest(w, { path: '/controller', value: WatcherType.Children }),
    );
    expect((await client.reply()).header.err).toBe(ErrorCode.NOWATCHER);
    client.request(5, OpCode.removeWatches, (w) =>
      writePathIntRequest(w, { path: '/brokers/ids', value: WatcherType.Any }),
    );
    expect((await client.reply()).header.err).toBe(0);
    client.request(6, OpCode.removeWatches, (w) =>
      writePathIntRequest(w, { path: '/brokers/ids', value: WatcherType.Any }),
    );
    expect((await client.reply()).header.err).toBe(ErrorCode.NOWATCHER);
    expect(server.watchCount).toBe(1);
    tree.delete('/brokers/ids/2');
    tree.setData('/controller', '{}');
    const r = await client.reply();
    expect(readEvent(r.body)).toMatchObject({ type: EventType.NodeDataChanged, path: '/controller' });
  });

  it('setWatches2 fires at once for what changed after relativeZxid and re-registers the rest', async () => {
    const { port, tree } = await startServer();
    const before = tree.current().zxid;
    tree.setData('/controller', '{"brokerid":9}');
    tree.create('/admin/preferred_replica_election', '{}');
    const { client } = await session(port);
    client.request(Xid.setWatches, OpCode.setWatches2, (w) =>
      writeSetWatches(
        w,
        {
          relativeZxid: before,
          dataWatches: ['/controller', '/controller_epoch', '/gone'],
          existWatches: ['/admin/preferred_replica_election', '/admin/reassign_partitions'],
          childWatches: ['/brokers/ids'],
          persistentWatches: ['/brokers/topics'],
          persistentRecursiveWatches: ['/config'],
        },
        true,
      ),
    );
    const got: [number, string][] = [];
    for (;;) {
      const r = await client.reply();
      if (r.header.xid === Xid.setWatches) break;
      const e = readEvent(r.body);
      got.push([e.type, e.path]);
    }
    expect(got).toEqual([
      [EventType.NodeDataChanged, '/controller'],
      [EventType.NodeDeleted, '/gone'],
      [EventType.NodeCreated, '/admin/preferred_replica_election'],
    ]);
    tree.create('/admin/reassign_partitions', '{}');
    tree.create('/brokers/topics/x', '{}');
    tree.create('/config/topics/x', '{}');
    tree.setData('/controller_epoch', '4');
    tree.delete('/brokers/ids/1');
    const later: [number, string][] = [];
    for (let i = 0; i < 5; i++) {
      const e = readEvent((await client.reply()).body);
      later.push([e.type, e.path]);
    }
    expect(later).toEqual([
      [EventType.NodeCreated, '/admin/reassign_partitions'],
      [EventType.NodeChildrenChanged, '/brokers/topics'],
      [EventType.NodeCreated, '/config/topics/x'],
      [EventType.NodeDataChanged, '/controller_epoch'],
      [EventType.NodeChildrenChanged, '/brokers/ids'],
    ]);
  });

  it('the tree may or may not report parent children changes: events are the same', async () => {
    const tree = kafkaTree();
    tree.reportParentChildren = false;
    const { port } = await startServer({ tree });
    const { client } = await session(port);
    client.request(1, OpCode.getChildren, path('/brokers/ids', true));
    await client.reply();
    tree.delete('/brokers/ids/1');
    expect(readEvent((await client.reply()).body)).toMatchObject({
      type: EventType.NodeChildrenChanged,
      path: '/brokers/ids',
    });
  });
});

describe('garbage in', () => {
  it('random requests and random handshakes never take the server down for anyone else', async () => {
    const { port } = await startServer({
      maxBufferBytes: 4096,
      writeHandler: { write: async () => ({ ok: true, zxid: 0n }) },
    });
    const { client: good } = await session(port);
    const types = Object.values(OpCode);
    const requests = fc.sample(
      fc.record({
        xid: fc.integer(),
        type: fc.oneof(fc.constantFrom(...types), fc.integer()),
        body: fc.uint8Array({ maxLength: 64 }),
      }),
      { numRuns: 300, seed: 42 },
    );
    const { client: fuzz } = await session(port);
    let conn = fuzz;
    let xid = 1;
    for (const r of requests) {
      if (conn.closed) conn = (await session(port)).client;
      raws.push(conn);
      conn.request(r.xid, r.type, (w) => {
        w.buffer(r.body).int(0);
      });
      if (xid % 50 === 0) expect((await getData(good, xid, '/brokers')).header.err).toBe(0);
      xid++;
    }
    for (const junk of fc.sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), { numRuns: 50, seed: 7 })) {
      const c = await RawClient.open(port);
      raws.push(c);
      c.send(junk);
    }
    await sleep(100);
    expect((await getData(good, xid, '/brokers')).header.err).toBe(0);
  });
});

describe('four-letter words', () => {
  it('ruok, srvr, stat, mntr as ZooKeeper answers them; others are not whitelisted', async () => {
    const { port, tree } = await startServer();
    const { client } = await session(port);
    await getData(client, 1, '/brokers');
    expect(await RawClient.fourLetterWord(port, 'ruok')).toBe('imok');
    const srvr = await RawClient.fourLetterWord(port, 'srvr');
    expect(srvr).toMatch(/^Zookeeper version: 3\.8\.\d/);
    expect(srvr).toContain(`Zxid: 0x${tree.current().zxid.toString(16)}\n`);
    expect(srvr).toMatch(/Latency min\/avg\/max: \d+\/[\d.]+\/\d+\n/);
    expect(srvr).toContain('Mode: standalone\n');
    expect(srvr).toMatch(/Node count: \d+\n/);
    const stat = await RawClient.fourLetterWord(port, 'stat');
    expect(stat).toMatch(/Clients:\n \/127\.0\.0\.1:\d+\[1\]\(queued=0,recved=1,sent=\d+\)\n/);
    const mntr = await RawClient.fourLetterWord(port, 'mntr');
    const kv = Object.fromEntries(
      mntr
        .trim()
        .split('\n')
        .map((l) => l.split('\t')),
    );
    expect(kv.zk_server_state).toBe('standalone');
    expect(Number(kv.zk_ephemerals_count)).toBe(3);
    expect(Number(kv.zk_znode_count)).toBeGreaterThan(10);
    expect(Number(kv.zk_num_alive_connections)).toBe(1);
    expect(await RawClient.fourLetterWord(port, 'dump')).toBe(
      'dump is not executed because it is not in the whitelist.\n',
    );
  });
});
