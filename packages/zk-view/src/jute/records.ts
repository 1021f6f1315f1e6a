/**
 * The jute records of ZooKeeper's client protocol (`zookeeper.jute`), as plain objects with a reader and
 * a writer each. Longs are bigints; buffers are Uint8Array or null (-1).
 */
import type { Stat } from '../types.js';
import type { JuteReader } from './reader.js';
import { JuteWriter } from './writer.js';

/** Bytes of a serialized Stat. */
export const STAT_BYTES = 8 * 4 + 4 * 3 + 8 + 4 * 2 + 8;

export function readStat(r: JuteReader): Stat {
  return {
    czxid: r.long(),
    mzxid: r.long(),
    ctime: r.long(),
    mtime: r.long(),
    version: r.int(),
    cversion: r.int(),
    aversion: r.int(),
    ephemeralOwner: r.long(),
    dataLength: r.int(),
    numChildren: r.int(),
    pzxid: r.long(),
  };
}

export function writeStat(w: JuteWriter, s: Stat): void {
  w.long(s.czxid).long(s.mzxid).long(s.ctime).long(s.mtime);
  w.int(s.version).int(s.cversion).int(s.aversion);
  w.long(s.ephemeralOwner).int(s.dataLength).int(s.numChildren).long(s.pzxid);
}

export interface Id {
  readonly scheme: string;
  readonly id: string;
}

export interface Acl {
  readonly perms: number;
  readonly id: Id;
}

/** Smallest encoding of an ACL: perms + two empty strings. */
export const ACL_MIN_BYTES = 12;

export function readAcl(r: JuteReader): Acl {
  const perms = r.int();
  const scheme = r.ustring();
  const id = r.ustring();
  return { perms, id: { scheme, id } };
}

export function writeAcl(w: JuteWriter, a: Acl): void {
  w.int(a.perms).ustring(a.id.scheme).ustring(a.id.id);
}

export interface ConnectRequest {
  readonly protocolVersion: number;
  readonly lastZxidSeen: bigint;
  readonly timeOut: number;
  readonly sessionId: bigint;
  readonly passwd: Uint8Array | null;
  /** Sent by clients since 3.3 (absent from "old" clients such as node-zookeeper-client). */
  readonly readOnly?: boolean;
}

export function readConnectRequest(r: JuteReader): ConnectRequest {
  const protocolVersion = r.int();
  const lastZxidSeen = r.long();
  const timeOut = r.int();
  const sessionId = r.long();
  const passwd = r.buffer();
  if (r.remaining > 0)
    return { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly: r.bool() };
  return { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd };
}

export function writeConnectRequest(w: JuteWriter, c: ConnectRequest): void {
  w.int(c.protocolVersion).long(c.lastZxidSeen).int(c.timeOut).long(c.sessionId).buffer(c.passwd);
  if (c.readOnly !== undefined) w.bool(c.readOnly);
}

export interface ConnectResponse {
  readonly protocolVersion: number;
  readonly timeOut: number;
  readonly sessionId: bigint;
  readonly passwd: Uint8Array | null;
  readonly readOnly?: boolean;
}

export function readConnectResponse(r: JuteReader): ConnectResponse {
  const protocolVersion = r.int();
  const timeOut = r.int();
  const sessionId = r.long();
  const passwd = r.buffer();
  if (r.remaining > 0) return { protocolVersion, timeOut, sessionId, passwd, readOnly: r.bool() };
  return { protocolVersion, timeOut, sessionId, passwd };
}

export function writeConnectResponse(w: JuteWriter, c: ConnectResponse): void {
  w.int(c.protocolVersion).int(c.timeOut).long(c.sessionId).buffer(c.passwd);
  if (c.readOnly !== undefined) w.bool(c.readOnly);
}

export interface RequestHeader {
  readonly xid: number;
  readonly type: number;
}

export function readRequestHeader(r: JuteReader): RequestHeader {
  return { xid: r.int(), type: r.int() };
}

export function writeRequestHeader(w: JuteWriter, h: RequestHeader): void {
  w.int(h.xid).int(h.type);
}

export interface ReplyHeader {
  readonly xid: number;
  readonly zxid: bigint;
  readonly err: number;
}

export function readReplyHeader(r: JuteReader): ReplyHeader {
  return { xid: r.int(), zxid: r.long(), err: r.int() };
}

export function writeReplyHeader(w: JuteWriter, h: ReplyHeader): void {
  w.int(h.xid).long(h.zxid).int(h.err);
}

export interface MultiHeader {
  readonly type: number;
  readonly done: boolean;
  readonly err: number;
}

export function readMultiHeader(r: JuteReader): MultiHeader {
  return { type: r.int(), done: r.bool(), err: r.int() };
}

export function writeMultiHeader(w: JuteWriter, h: MultiHeader): void {
  w.int(h.type).bool(h.done).int(h.err);
}

export interface WatcherEvent {
  readonly type: number;
  readonly state: number;
  readonly path: string;
}

export function readWatcherEvent(r: JuteReader): WatcherEvent {
  return { type: r.int(), state: r.int(), path: r.ustring() };
}

export function writeWatcherEvent(w: JuteWriter, e: WatcherEvent): void {
  w.int(e.type).int(e.state).ustring(e.path);
}

export interface AuthPacket {
  readonly type: number;
  readonly scheme: string;
  readonly auth: Uint8Array | null;
}

export function readAuthPacket(r: JuteReader): AuthPacket {
  return { type: r.int(), scheme: r.ustring(), auth: r.buffer() };
}

export function writeAuthPacket(w: JuteWriter, a: AuthPacket): void {
  w.int(a.type).ustring(a.scheme).buffer(a.auth);
}

/** GetDataRequest, ExistsRequest, GetChildrenRequest and GetChildren2Request share this shape. */
export interface PathWatchRequest {
  readonly path: string;
  readonly watch: boolean;
}

export function readPathWatchRequest(r: JuteReader): PathWatchRequest {
  return { path: r.ustring(), watch: r.bool() };
}

export function writePathWatchRequest(w: JuteWriter, q: PathWatchRequest): void {
  w.ustring(q.path).bool(q.watch);
}

/** SyncRequest, GetACLRequest, GetAllChildrenNumberRequest, GetEphemeralsRequest, DeleteContainer. */
export function readPathRequest(r: JuteReader): { path: string } {
  return { path: r.ustring() };
}

/** CheckWatchesRequest, RemoveWatchesRequest and AddWatchRequest: a path and an int (type or mode). */
export interface PathIntRequest {
  readonly path: string;
  readonly value: number;
}

export function readPathIntRequest(r: JuteReader): PathIntRequest {
  return { path: r.ustring(), value: r.int() };
}

export function writePathIntRequest(w: JuteWriter, q: PathIntRequest): void {
  w.ustring(q.path).int(q.value);
}

export interface SetWatches {
  readonly relativeZxid: bigint;
  readonly dataWatches: readonly string[];
  readonly existWatches: readonly string[];
  readonly childWatches: readonly string[];
  /** Only in SetWatches2 (opcode 105). */
  readonly persistentWatches: readonly string[];
  readonly persistentRecursiveWatches: readonly string[];
}

const readStr = (r: JuteReader): string => r.ustring();
const writeStr = (w: JuteWriter, s: string): void => {
  w.ustring(s);
};

export function readSetWatches(r: JuteReader, v2: boolean): SetWatches {
  const relativeZxid = r.long();
  const dataWatches = r.vector(readStr, 4);
  const existWatches = r.vector(readStr, 4);
  const childWatches = r.vector(readStr, 4);
  const persistentWatches = v2 ? r.vector(readStr, 4) : [];
  const persistentRecursiveWatches = v2 ? r.vector(readStr, 4) : [];
  return {
    relativeZxid,
    dataWatches,
    existWatches,
    childWatches,
    persistentWatches,
    persistentRecursiveWatches,
  };
}

export function writeSetWatches(w: JuteWriter, s: SetWatches, v2: boolean): void {
  w.long(s.relativeZxid).vector(s.dataWatches, writeStr).vector(s.existWatches, writeStr);
  w.vector(s.childWatches, writeStr);
  if (v2) w.vector(s.persistentWatches, writeStr).vector(s.persistentRecursiveWatches, writeStr);
}

export interface CreateRequest {
  readonly path: string;
  readonly data: Uint8Array | null;
  readonly acl: readonly Acl[];
  readonly flags: number;
  /** Only in CreateTTLRequest (opcode 21). */
  readonly ttl?: bigint;
}

export function readCreateRequest(r: JuteReader, withTtl: boolean): CreateRequest {
  const path = r.ustring();
  const data = r.buffer();
  const acl = r.vector(readAcl, ACL_MIN_BYTES);
  const flags = r.int();
  if (withTtl) return { path, data, acl, flags, ttl: r.long() };
  return { path, data, acl, flags };
}

export function writeCreateRequest(w: JuteWriter, c: CreateRequest): void {
  w.ustring(c.path).buffer(c.data).vector(c.acl, writeAcl).int(c.flags);
  if (c.ttl !== undefined) w.long(c.ttl);
}

/** DeleteRequest and CheckVersionRequest. */
export interface PathVersionRequest {
  readonly path: string;
  readonly version: number;
}

export function readPathVersionRequest(r: JuteReader): PathVersionRequest {
  return { path: r.ustring(), version: r.int() };
}

export function writePathVersionRequest(w: JuteWriter, q: PathVersionRequest): void {
  w.ustring(q.path).int(q.version);
}

export interface SetDataRequest {
  readonly path: string;
  readonly data: Uint8Array | null;
  readonly version: number;
}

export function readSetDataRequest(r: JuteReader): SetDataRequest {
  return { path: r.ustring(), data: r.buffer(), version: r.int() };
}

export function writeSetDataRequest(w: JuteWriter, q: SetDataRequest): void {
  w.ustring(q.path).buffer(q.data).int(q.version);
}

export interface SetAclRequest {
  readonly path: string;
  readonly acl: readonly Acl[];
  readonly version: number;
}

export function readSetAclRequest(r: JuteReader): SetAclRequest {
  return { path: r.ustring(), acl: r.vector(readAcl, ACL_MIN_BYTES), version: r.int() };
}

export interface ReconfigRequest {
  readonly joiningServers: string | null;
  readonly leavingServers: string | null;
  readonly newMembers: string | null;
  readonly curConfigId: bigint;
}

export function readReconfigRequest(r: JuteReader): ReconfigRequest {
  return {
    joiningServers: r.ustringOrNull(),
    leavingServers: r.ustringOrNull(),
    newMembers: r.ustringOrNull(),
    curConfigId: r.long(),
  };
}

export interface ClientInfo {
  readonly authScheme: string;
  readonly user: string;
}

export function writeClientInfo(w: JuteWriter, c: ClientInfo): void {
  w.ustring(c.authScheme).ustring(c.user);
}

export function readClientInfo(r: JuteReader): ClientInfo {
  return { authScheme: r.ustring(), user: r.ustring() };
}

// Response bodies used by the server; each is a sequence of the primitives above.

/**
 * Encodings of values that promise never to change by being frozen (the znode view freezes the Stat
 * of a znode it shares between snapshots, and the child lists it keeps): encoded once, copied into
 * each reply after that, and dropped with the value.
 */
const dataResponses = new WeakMap<Stat, { readonly data: Uint8Array | null; readonly bytes: Uint8Array }>();
const childLists = new WeakMap<readonly string[], Uint8Array>();

/** A standalone copy of what `encode` writes (not a view into a pooled buffer, which it would pin). */
function encoded(size: number, encode: (w: JuteWriter) => void): Uint8Array {
  const w = new JuteWriter(size);
  encode(w);
  return new Uint8Array(w.bytes());
}

export function writeGetDataResponse(w: JuteWriter, data: Uint8Array | null, stat: Stat): void {
  if (!Object.isFrozen(stat)) {
    w.buffer(data);
    writeStat(w, stat);
    return;
  }
  let cached = dataResponses.get(stat);
  if (cached === undefined || cached.data !== data) {
    const bytes = encoded(4 + (data?.byteLength ?? 0) + 68, (e) => {
      e.buffer(data);
      writeStat(e, stat);
    });
    cached = { data, bytes };
    dataResponses.set(stat, cached);
  }
  w.raw(cached.bytes);
}

export function writeChildren(w: JuteWriter, children: readonly string[]): void {
  if (!Object.isFrozen(children)) {
    w.vector(children, writeStr);
    return;
  }
  let bytes = childLists.get(children);
  if (bytes === undefined) {
    let size = 4;
    for (const c of children) size += 4 + c.length * 3;
    bytes = encoded(size, (e) => e.vector(children, writeStr));
    childLists.set(children, bytes);
  }
  w.raw(bytes);
}

export function readChildren(r: JuteReader): string[] {
  return r.vector(readStr, 4);
}
