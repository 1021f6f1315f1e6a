/**
 * ZooKeeper sessions of the ZooKeeper-compatible view, as a ZooKeeper ensemble's leader keeps them:
 * creation, take-over by another server and closing are logged (ZkSession / ZkSessionEnd records);
 * liveness is soft state of the active controller only, fed by each broker's batched reports of the
 * sessions its clients were heard on (as followers batch session touches into their pings).
 *
 * A new controller cannot know when sessions were last heard by the previous one: it gives every
 * session a full timeout from its activation, as a new ZooKeeper leader does.
 */
import { timingSafeEqual } from 'node:crypto';
import type { MetadataImageView } from '../image/types.js';
import { type MetadataRecord, RecordType } from '../records.js';
import { ControllerError } from './errors.js';
import type { ControllerResult } from './quorum-controller.js';

/** Session ids on the wire of the controller API and in records: 16 lower-case hex digits. */
export function formatSessionId(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}

const SESSION_ID = /^[0-9a-f]{16}$/;
const PASSWORD = /^[0-9a-f]{32}$/;

export interface ZkSessionCreateRequest {
  readonly sessionId: string;
  readonly password: string;
  readonly timeoutMs: number;
  readonly ownerId: number;
}

function checkTimeout(timeoutMs: number): void {
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 24 * 3600_000) {
    throw new ControllerError('INVALID_REQUEST', `invalid ZooKeeper session timeout ${timeoutMs} ms`);
  }
}

/** A new session with the id and password the controller chose. */
export function createZkSession(
  image: MetadataImageView,
  req: ZkSessionCreateRequest,
): ControllerResult<{ sessionId: string; password: string; timeoutMs: number }> {
  checkTimeout(req.timeoutMs);
  if (!SESSION_ID.test(req.sessionId) || !PASSWORD.test(req.password)) {
    throw new ControllerError('INVALID_REQUEST', 'malformed ZooKeeper session id or password');
  }
  if (image.zkSessions.get(req.sessionId) !== undefined) {
    throw new ControllerError('INVALID_REQUEST', `ZooKeeper session ${req.sessionId} exists already`);
  }
  return {
    records: [{ type: RecordType.ZkSession, version: 0, ...req }],
    response: { sessionId: req.sessionId, password: req.password, timeoutMs: req.timeoutMs },
  };
}

/**
 * A client reconnected with its session id and password: valid when the session is alive and the
 * password matches; the server it reached becomes the session's owner (the previous owner drops its
 * connection, as a ZooKeeper server whose session moved).
 */
export function attachZkSession(
  image: MetadataImageView,
  req: {
    readonly sessionId: string;
    readonly password: string;
    readonly timeoutMs: number;
    readonly ownerId: number;
  },
): ControllerResult<{ valid: boolean }> {
  checkTimeout(req.timeoutMs);
  const s = image.zkSessions.get(req.sessionId);
  if (s === undefined || !samePassword(s.password, req.password)) {
    return { records: [], response: { valid: false } };
  }
  if (s.ownerId === req.ownerId && s.timeoutMs === req.timeoutMs) {
    return { records: [], response: { valid: true } };
  }
  return {
    records: [
      {
        type: RecordType.ZkSession,
        version: 0,
        sessionId: s.id,
        password: s.password,
        timeoutMs: req.timeoutMs,
        ownerId: req.ownerId,
      },
    ],
    response: { valid: true },
  };
}

/** Ends sessions (closed by their client, or expired); unknown ids are skipped. */
export function endZkSessions(
  image: MetadataImageView,
  sessionIds: Iterable<string>,
  reason: 'expired' | 'closed',
): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  const seen = new Set<string>();
  for (const sessionId of sessionIds) {
    if (seen.has(sessionId) || image.zkSessions.get(sessionId) === undefined) continue;
    seen.add(sessionId);
    records.push({ type: RecordType.ZkSessionEnd, version: 0, sessionId, reason });
  }
  return records;
}

function samePassword(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** The active controller's deadlines for the sessions in the image. */
export class ZkSessionTracker {
  private readonly deadlines = new Map<string, number>();

  clear(): void {
    this.deadlines.clear();
  }

  /** Every session of the image gets a full timeout from `nowMs` (a controller's activation). */
  restart(image: MetadataImageView, nowMs: number): void {
    this.deadlines.clear();
    for (const s of image.zkSessions.sessions()) this.deadlines.set(s.id, nowMs + s.timeoutMs);
  }

  /** The sessions were heard from: each lives its timeout (from the image) past `nowMs`. */
  touch(image: MetadataImageView, sessionIds: Iterable<string>, nowMs: number): string[] {
    const unknown: string[] = [];
    for (const id of sessionIds) {
      const s = image.zkSessions.get(id);
      if (s === undefined) unknown.push(id);
      else this.deadlines.set(id, nowMs + s.timeoutMs);
    }
    return unknown;
  }

  /** One session was heard from (created or taken over) with this timeout. */
  heard(sessionId: string, timeoutMs: number, nowMs: number): void {
    this.deadlines.set(sessionId, nowMs + timeoutMs);
  }

  forget(sessionId: string): void {
    this.deadlines.delete(sessionId);
  }

  /**
   * Sessions past their deadline that the image still holds. Ids the image no longer has are dropped,
   * and a session the tracker has not seen yet gets a full timeout from now, so none lives forever.
   */
  expired(image: MetadataImageView, nowMs: number): string[] {
    const out: string[] = [];
    for (const [id, deadline] of this.deadlines) {
      if (image.zkSessions.get(id) === undefined) this.deadlines.delete(id);
      else if (deadline <= nowMs) out.push(id);
    }
    if (this.deadlines.size < image.zkSessions.count) {
      for (const s of image.zkSessions.sessions()) {
        if (!this.deadlines.has(s.id)) this.deadlines.set(s.id, nowMs + s.timeoutMs);
      }
    }
    return out;
  }

  get size(): number {
    return this.deadlines.size;
  }
}
