/**
 * The cluster id and the broker registrations. Brokers number in the hundreds and change rarely
 * (registration, fencing, shutdown): a plain map copied once per delta that touches it.
 */
import type {
  BrokerRegistrationChangeRecord,
  RegisterBrokerRecord,
  RegisterControllerRecord,
  UnregisterBrokerRecord,
} from '../records.js';
import { MetadataReplayError } from './errors.js';
import type { BrokerRegistration, ClusterImage, ControllerRegistration, MetadataChange } from './types.js';

/** The cluster's stamps beyond its registrations (see {@link ClusterImage}). */
export interface ClusterStamps {
  readonly clusterIdOffset: number;
  readonly clusterIdTimeMs: number;
  readonly unfencedRemovals: number;
  readonly unfencedChangedOffset: number;
}

const NO_STAMPS: ClusterStamps = Object.freeze({
  clusterIdOffset: 0,
  clusterIdTimeMs: 0,
  unfencedRemovals: 0,
  unfencedChangedOffset: 0,
});

export class ClusterImageImpl implements ClusterImage {
  static readonly EMPTY = new ClusterImageImpl('', new Map(), new Map());

  /** @internal Takes ownership of `brokerMap` and `controllerMap`. */
  constructor(
    readonly clusterId: string,
    /** @internal */ readonly brokerMap: ReadonlyMap<number, BrokerRegistration>,
    /** @internal */ readonly controllerMap: ReadonlyMap<number, ControllerRegistration> = new Map(),
    /** @internal */ readonly stamps: ClusterStamps = NO_STAMPS,
  ) {
    Object.freeze(this);
  }

  get clusterIdOffset(): number {
    return this.stamps.clusterIdOffset;
  }

  get clusterIdTimeMs(): number {
    return this.stamps.clusterIdTimeMs;
  }

  get unfencedRemovals(): number {
    return this.stamps.unfencedRemovals;
  }

  get unfencedChangedOffset(): number {
    return this.stamps.unfencedChangedOffset;
  }

  controller(id: number): ControllerRegistration | undefined {
    return this.controllerMap.get(id);
  }

  controllers(): IterableIterator<ControllerRegistration> {
    return this.controllerMap.values();
  }

  broker(id: number): BrokerRegistration | undefined {
    return this.brokerMap.get(id);
  }

  brokers(): IterableIterator<BrokerRegistration> {
    return this.brokerMap.values();
  }

  get brokerCount(): number {
    return this.brokerMap.size;
  }

  toComparable(): {
    clusterId: string;
    stamps: ClusterStamps;
    brokers: BrokerRegistration[];
    controllers: ControllerRegistration[];
  } {
    return {
      clusterId: this.clusterId,
      stamps: { ...this.stamps },
      brokers: [...this.brokerMap.values()].sort((a, b) => a.id - b.id).map((b) => ({ ...b })),
      controllers: [...this.controllerMap.values()].sort((a, b) => a.id - b.id).map((c) => ({ ...c })),
    };
  }
}

/** Builds a frozen registration with its own frozen copy of the endpoints. */
export function brokerRegistration(
  record: RegisterBrokerRecord,
  epoch: number,
  registeredTimeMs: number,
): BrokerRegistration {
  return Object.freeze({
    id: record.brokerId,
    epoch,
    incarnationId: record.incarnationId,
    endpoints: Object.freeze(record.endpoints.map((e) => Object.freeze({ ...e }))),
    rack: record.rack ?? null,
    fenced: record.fenced,
    inControlledShutdown: record.inControlledShutdown,
    registeredTimeMs,
  });
}

export class ClusterDelta {
  private clusterId: string | undefined;
  /** id -> registration, or null when unregistered. */
  private readonly changed = new Map<number, BrokerRegistration | null>();
  private stamps: ClusterStamps;

  constructor(readonly image: ClusterImageImpl) {
    this.stamps = image.stamps;
  }

  private current(id: number): BrokerRegistration | undefined {
    const c = this.changed.get(id);
    return c === undefined ? this.image.broker(id) : (c ?? undefined);
  }

  /** Re-writing the same id changes nothing (its stamps stay the first write's). */
  replayCluster(clusterId: string, offset: number, timestampMs: number): void {
    if (clusterId === (this.clusterId ?? this.image.clusterId)) return;
    this.clusterId = clusterId;
    this.stamps = Object.freeze({ ...this.stamps, clusterIdOffset: offset, clusterIdTimeMs: timestampMs });
  }

  /**
   * Registrations move from `before` to `after` at `offset`: counts an unfenced registration that
   * goes (fenced, unregistered, or replaced by another registration) and dates any change to the set
   * of unfenced registrations. Counted per record, so batching cannot change the result.
   */
  private liveChange(
    before: BrokerRegistration | undefined,
    after: BrokerRegistration | undefined,
    offset: number,
  ): void {
    const wasLive = before !== undefined && !before.fenced;
    const isLive = after !== undefined && !after.fenced;
    const same = before !== undefined && after !== undefined && before.epoch === after.epoch;
    const removed = wasLive && !(isLive && same);
    if (!removed && !(isLive && !(wasLive && same))) return;
    this.stamps = Object.freeze({
      ...this.stamps,
      unfencedRemovals: this.stamps.unfencedRemovals + (removed ? 1 : 0),
      unfencedChangedOffset: offset,
    });
  }

  private readonly controllersChanged = new Map<number, ControllerRegistration>();

  replayController(record: RegisterControllerRecord): void {
    this.controllersChanged.set(
      record.controllerId,
      Object.freeze({
        id: record.controllerId,
        endpoints: Object.freeze(record.endpoints.map((e) => Object.freeze({ ...e }))),
      }),
    );
  }

  /** A (re-)registration replaces any earlier one; its epoch is the record's offset. */
  replayRegister(record: RegisterBrokerRecord, offset: number, timestampMs: number): void {
    const reg = brokerRegistration(record, offset, timestampMs);
    this.liveChange(this.current(record.brokerId), reg, offset);
    this.changed.set(record.brokerId, reg);
  }

  /**
   * Applied even when `brokerEpoch` differs from the current registration's: the controller checked
   * it before writing, and replay must be total and deterministic, not second-guess the log.
   */
  replayChange(record: BrokerRegistrationChangeRecord, offset: number): void {
    const cur = this.current(record.brokerId);
    if (cur === undefined)
      throw new MetadataReplayError(offset, record, `broker ${record.brokerId} is not registered`);
    const fenced = record.fenced === 1 ? true : record.fenced === -1 ? false : cur.fenced;
    const inControlledShutdown = record.inControlledShutdown === 1 ? true : cur.inControlledShutdown;
    if (fenced === cur.fenced && inControlledShutdown === cur.inControlledShutdown) return;
    const next = Object.freeze({ ...cur, fenced, inControlledShutdown });
    this.liveChange(cur, next, offset);
    this.changed.set(record.brokerId, next);
  }

  replayUnregister(record: UnregisterBrokerRecord, offset: number): void {
    const cur = this.current(record.brokerId);
    if (cur === undefined) {
      throw new MetadataReplayError(offset, record, `broker ${record.brokerId} is not registered`);
    }
    this.liveChange(cur, undefined, offset);
    this.changed.set(record.brokerId, null);
  }

  get touched(): Iterable<number> {
    return this.changed.keys();
  }

  apply(): ClusterImageImpl {
    const clusterId = this.clusterId ?? this.image.clusterId;
    let controllers = this.image.controllerMap;
    if (this.controllersChanged.size > 0) {
      const next = new Map(controllers);
      for (const [id, c] of this.controllersChanged) next.set(id, c);
      controllers = next;
    }
    if (this.changed.size === 0) {
      return clusterId === this.image.clusterId &&
        controllers === this.image.controllerMap &&
        this.stamps === this.image.stamps
        ? this.image
        : new ClusterImageImpl(clusterId, this.image.brokerMap, controllers, this.stamps);
    }
    const brokers = new Map(this.image.brokerMap);
    for (const [id, reg] of this.changed) {
      if (reg === null) brokers.delete(id);
      else brokers.set(id, reg);
    }
    return new ClusterImageImpl(clusterId, brokers, controllers, this.stamps);
  }
}

/**
 * Broker events for the given ids: `broker-registered` for a new epoch, then fencing transitions (an
 * absent broker counts as fenced, so a broker registering unfenced also reports `broker-unfenced`),
 * `broker-controlled-shutdown` on entering it, `broker-unregistered` when gone.
 */
export function clusterChanges(
  base: ClusterImageImpl,
  next: ClusterImageImpl,
  ids: Iterable<number>,
  out: MetadataChange[],
): void {
  if (base === next) return;
  if (base.clusterId !== next.clusterId) out.push({ kind: 'cluster-id', clusterId: next.clusterId });
  for (const brokerId of ids) {
    const before = base.broker(brokerId);
    const after = next.broker(brokerId);
    if (before === after) continue;
    if (after === undefined) {
      if (before !== undefined) out.push({ kind: 'broker-unregistered', brokerId });
      continue;
    }
    const sameEpoch = before !== undefined && before.epoch === after.epoch;
    if (!sameEpoch) out.push({ kind: 'broker-registered', brokerId, epoch: after.epoch });
    const wasFenced = before?.fenced ?? true;
    if (after.fenced !== wasFenced)
      out.push({ kind: after.fenced ? 'broker-fenced' : 'broker-unfenced', brokerId });
    const wasShuttingDown = sameEpoch && before.inControlledShutdown;
    if (after.inControlledShutdown && !wasShuttingDown)
      out.push({ kind: 'broker-controlled-shutdown', brokerId });
  }
}
