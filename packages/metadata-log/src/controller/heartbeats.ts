/**
 * Broker liveness: the active controller's soft state about brokers (Kafka's BrokerHeartbeatManager)
 * and the state machine a heartbeat drives (calculateNextBrokerState).
 *
 * Soft state is never in the log: last contact (a monotonic clock in ms, passed in), the last reported
 * metadata offset, and the controlled-shutdown offset. A new controller starts with none of it, so it
 * treats every broker as just heard from (see {@link BrokerHeartbeatTracker.register}); fencing after a
 * failover is therefore delayed by up to one session, as in Kafka.
 *
 * Staleness is checked without scanning: unfenced brokers are kept in order of last contact (a Map,
 * whose insertion order is that order because a touch re-inserts at the end and time never goes back),
 * so the oldest sessions are at the head and a tick stops at the first live one.
 */
import type { BrokerRegistration, ClusterImage } from '../image/types.js';
import { ControllerError } from './errors.js';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2000;
export const DEFAULT_SESSION_TIMEOUT_MS = 9000;

export type BrokerControlState = 'FENCED' | 'UNFENCED' | 'CONTROLLED_SHUTDOWN' | 'SHUTDOWN_NOW';

export interface HeartbeatRequest {
  readonly wantFence: boolean;
  readonly wantShutDown: boolean;
  readonly currentMetadataOffset: number;
}

export interface NextStateInput {
  readonly current: BrokerControlState;
  readonly request: HeartbeatRequest;
  /** The offset of the broker's RegisterBrokerRecord (its broker epoch). */
  readonly registrationOffset: number;
  /** Whether the broker still leads any partition; called only when the answer matters. */
  readonly hasLeaderships: () => boolean;
  /** The broker's controlled-shutdown offset (-1 when not shutting down). */
  readonly controlledShutdownOffset: number;
  /** The lowest metadata offset reported by an active broker (unfenced, not shutting down). */
  readonly lowestActiveOffset: () => number;
}

/**
 * Kafka's calculateNextBrokerState:
 * - FENCED: WantShutDown → SHUTDOWN_NOW; not WantFence and caught up (metadata offset >= registration
 *   offset) → UNFENCED; else FENCED.
 * - UNFENCED: WantFence → FENCED (SHUTDOWN_NOW if WantShutDown too); WantShutDown → CONTROLLED_SHUTDOWN
 *   while it leads partitions, else SHUTDOWN_NOW.
 * - CONTROLLED_SHUTDOWN → SHUTDOWN_NOW once it leads nothing and every active broker has replayed the
 *   metadata up to its controlled-shutdown offset (so they all know it is gone before it goes).
 * - SHUTDOWN_NOW stays.
 */
export function calculateNextBrokerState(input: NextStateInput): BrokerControlState {
  const { request } = input;
  switch (input.current) {
    case 'FENCED':
      if (request.wantShutDown) return 'SHUTDOWN_NOW';
      if (!request.wantFence && request.currentMetadataOffset >= input.registrationOffset) return 'UNFENCED';
      return 'FENCED';
    case 'UNFENCED':
      if (request.wantFence) return request.wantShutDown ? 'SHUTDOWN_NOW' : 'FENCED';
      if (request.wantShutDown) return input.hasLeaderships() ? 'CONTROLLED_SHUTDOWN' : 'SHUTDOWN_NOW';
      return 'UNFENCED';
    case 'CONTROLLED_SHUTDOWN':
      if (input.hasLeaderships()) return 'CONTROLLED_SHUTDOWN';
      if (
        input.controlledShutdownOffset >= 0 &&
        input.controlledShutdownOffset <= input.lowestActiveOffset()
      ) {
        return 'SHUTDOWN_NOW';
      }
      return 'CONTROLLED_SHUTDOWN';
    case 'SHUTDOWN_NOW':
      return 'SHUTDOWN_NOW';
  }
}

/** A heartbeat's IsCaughtUp: the broker has replayed its own registration. */
export function isCaughtUp(currentMetadataOffset: number, registrationOffset: number): boolean {
  return currentMetadataOffset >= registrationOffset;
}

/** The registration's state as the state machine sees it. */
export function registrationState(broker: BrokerRegistration): BrokerControlState {
  if (broker.inControlledShutdown) return 'CONTROLLED_SHUTDOWN';
  return broker.fenced ? 'FENCED' : 'UNFENCED';
}

export interface BrokerHeartbeatState {
  readonly brokerId: number;
  readonly lastContactMs: number;
  readonly metadataOffset: number;
  /** -1 unless the broker is in controlled shutdown. */
  readonly controlledShutdownOffset: number;
  readonly fenced: boolean;
}

interface MutableState {
  brokerId: number;
  lastContactMs: number;
  metadataOffset: number;
  controlledShutdownOffset: number;
  fenced: boolean;
}

/** The active controller's per-broker soft state. */
export class BrokerHeartbeatTracker {
  readonly sessionTimeoutMs: number;
  private readonly brokers = new Map<number, MutableState>();
  /** Unfenced brokers, oldest contact first (insertion order; see the module comment). */
  private readonly unfenced = new Map<number, MutableState>();
  /** The latest time seen; contact times are clamped to it so the order above can never break. */
  private latestMs = Number.NEGATIVE_INFINITY;

  constructor(options: { readonly sessionTimeoutMs?: number } = {}) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  }

  /**
   * Starts tracking a broker as just heard from (a registration, or every registered broker when this
   * node becomes the active controller). Resets its controlled-shutdown offset.
   */
  register(brokerId: number, nowMs: number, fenced: boolean, metadataOffset = -1): void {
    this.remove(brokerId);
    const s: MutableState = {
      brokerId,
      lastContactMs: this.clamp(nowMs),
      metadataOffset,
      controlledShutdownOffset: -1,
      fenced,
    };
    this.brokers.set(brokerId, s);
    if (!fenced) this.unfenced.set(brokerId, s);
  }

  /** Records a heartbeat: contact now, its metadata offset, and whether it is fenced after it. */
  touch(brokerId: number, nowMs: number, fenced: boolean, metadataOffset: number): void {
    const s = this.brokers.get(brokerId);
    if (s === undefined) {
      this.register(brokerId, nowMs, fenced, metadataOffset);
      return;
    }
    s.lastContactMs = this.clamp(nowMs);
    s.metadataOffset = metadataOffset;
    this.unfenced.delete(brokerId);
    s.fenced = fenced;
    if (fenced) {
      s.controlledShutdownOffset = -1;
    } else {
      this.unfenced.set(brokerId, s);
    }
  }

  /** Marks a broker fenced (session expiry or an explicit fence) without a contact. */
  fence(brokerId: number): void {
    const s = this.brokers.get(brokerId);
    if (s === undefined) return;
    s.fenced = true;
    s.controlledShutdownOffset = -1;
    this.unfenced.delete(brokerId);
  }

  /**
   * Records the offset of the batch that put the broker into controlled shutdown; only the first is
   * kept (Kafka's maybeUpdateControlledShutdownOffset). A fenced broker cannot be shutting down.
   */
  setControlledShutdownOffset(brokerId: number, offset: number): void {
    const s = this.brokers.get(brokerId);
    if (s === undefined || s.fenced) return;
    if (s.controlledShutdownOffset < 0) s.controlledShutdownOffset = offset;
  }

  remove(brokerId: number): void {
    this.brokers.delete(brokerId);
    this.unfenced.delete(brokerId);
  }

  clear(): void {
    this.brokers.clear();
    this.unfenced.clear();
  }

  get(brokerId: number): BrokerHeartbeatState | undefined {
    const s = this.brokers.get(brokerId);
    return s === undefined ? undefined : { ...s };
  }

  get size(): number {
    return this.brokers.size;
  }

  /**
   * Whether the broker has a live session: unfenced and heard from within the session timeout. A
   * registration under a different incarnation is refused while this holds.
   */
  hasValidSession(brokerId: number, nowMs: number): boolean {
    const s = this.brokers.get(brokerId);
    return s !== undefined && !s.fenced && s.lastContactMs + this.sessionTimeoutMs >= nowMs;
  }

  /**
   * Unfenced brokers whose session expired (last contact + timeout < now), oldest first. Visits only the
   * expired ones plus one: the list is ordered by last contact.
   */
  staleBrokers(nowMs: number, sessionTimeoutMs = this.sessionTimeoutMs): number[] {
    const out: number[] = [];
    for (const s of this.unfenced.values()) {
      if (s.lastContactMs + sessionTimeoutMs >= nowMs) break;
      out.push(s.brokerId);
    }
    return out;
  }

  /** The oldest expired session, if any (Kafka fences one broker per event). */
  findOneStaleBroker(nowMs: number): number | undefined {
    for (const s of this.unfenced.values()) {
      return s.lastContactMs + this.sessionTimeoutMs < nowMs ? s.brokerId : undefined;
    }
    return undefined;
  }

  /** When the oldest unfenced session expires (the next time a stale check can find something). */
  nextExpiryMs(): number | undefined {
    for (const s of this.unfenced.values()) return s.lastContactMs + this.sessionTimeoutMs + 1;
    return undefined;
  }

  /**
   * The lowest metadata offset among active brokers (unfenced, not shutting down); +Infinity when there
   * are none, so a last broker can always shut down. O(brokers), but only asked for brokers that are in
   * controlled shutdown.
   */
  lowestActiveOffset(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.unfenced.values()) {
      if (s.controlledShutdownOffset < 0 && s.metadataOffset < min) min = s.metadataOffset;
    }
    return min;
  }

  /**
   * The next state for a heartbeat from a registered broker. `current` is the broker's registration state
   * in the image; the controlled-shutdown offset and active offsets come from this tracker.
   */
  nextState(
    brokerId: number,
    current: BrokerControlState,
    request: HeartbeatRequest,
    registrationOffset: number,
    hasLeaderships: () => boolean,
  ): BrokerControlState {
    return calculateNextBrokerState({
      current,
      request,
      registrationOffset,
      hasLeaderships,
      controlledShutdownOffset: this.brokers.get(brokerId)?.controlledShutdownOffset ?? -1,
      lowestActiveOffset: () => this.lowestActiveOffset(),
    });
  }

  private clamp(nowMs: number): number {
    if (nowMs > this.latestMs) this.latestMs = nowMs;
    return this.latestMs;
  }
}

// ---------------------------------------------------------------------------------------------------
// Registration and epoch checks

/**
 * Kafka's checkBrokerEpoch for a heartbeat (and other broker-to-controller requests): the broker must be
 * registered with exactly this epoch. Both refusals are STALE_BROKER_EPOCH, as in Kafka, so the broker
 * re-registers.
 */
export function checkBrokerEpoch(
  cluster: ClusterImage,
  brokerId: number,
  brokerEpoch: number,
): BrokerRegistration {
  const reg = cluster.broker(brokerId);
  if (reg === undefined) {
    throw new ControllerError('STALE_BROKER_EPOCH', `No broker registration found for broker ${brokerId}`);
  }
  if (reg.epoch !== brokerEpoch) {
    throw new ControllerError(
      'STALE_BROKER_EPOCH',
      `Expected broker epoch ${reg.epoch}, but got broker epoch ${brokerEpoch}`,
    );
  }
  return reg;
}

/** The registration of a broker that must exist (UnregisterBroker): else BROKER_ID_NOT_REGISTERED. */
export function requireRegisteredBroker(cluster: ClusterImage, brokerId: number): BrokerRegistration {
  const reg = cluster.broker(brokerId);
  if (reg === undefined) {
    throw new ControllerError(
      'BROKER_ID_NOT_REGISTERED',
      `Broker ID ${brokerId} is not currently registered`,
    );
  }
  return reg;
}

/**
 * Refuses a registration that would displace a live broker process: the id is registered under a
 * different incarnation and that registration still has a valid session (DUPLICATE_BROKER_REGISTRATION).
 * A re-registration by the same incarnation, or after the old session lapsed or was fenced, is allowed.
 */
export function checkRegistration(
  cluster: ClusterImage,
  brokerId: number,
  incarnationId: string,
  hasValidSession: (brokerId: number) => boolean,
): void {
  if (!Number.isInteger(brokerId) || brokerId < 0) {
    throw new ControllerError('INVALID_REQUEST', `Invalid broker id ${brokerId}`);
  }
  const existing = cluster.broker(brokerId);
  if (existing === undefined) return;
  if (existing.incarnationId !== incarnationId && hasValidSession(brokerId)) {
    throw new ControllerError(
      'DUPLICATE_BROKER_REGISTRATION',
      `Another broker is registered with that broker id (${brokerId}, incarnation ${existing.incarnationId}).`,
    );
  }
}
