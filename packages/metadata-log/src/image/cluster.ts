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

export class ClusterImageImpl implements ClusterImage {
  static readonly EMPTY = new ClusterImageImpl('', new Map(), new Map());

  /** @internal Takes ownership of `brokerMap` and `controllerMap`. */
  constructor(
    readonly clusterId: string,
    /** @internal */ readonly brokerMap: ReadonlyMap<number, BrokerRegistration>,
    /** @internal */ readonly controllerMap: ReadonlyMap<number, ControllerRegistration> = new Map(),
  ) {
    Object.freeze(this);
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
    brokers: BrokerRegistration[];
    controllers: ControllerRegistration[];
  } {
    return {
      clusterId: this.clusterId,
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

  constructor(readonly image: ClusterImageImpl) {}

  private current(id: number): BrokerRegistration | undefined {
    const c = this.changed.get(id);
    return c === undefined ? this.image.broker(id) : (c ?? undefined);
  }

  replayCluster(clusterId: string): void {
    this.clusterId = clusterId;
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
    this.changed.set(record.brokerId, brokerRegistration(record, offset, timestampMs));
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
    this.changed.set(record.brokerId, Object.freeze({ ...cur, fenced, inControlledShutdown }));
  }

  replayUnregister(record: UnregisterBrokerRecord, offset: number): void {
    if (this.current(record.brokerId) === undefined) {
      throw new MetadataReplayError(offset, record, `broker ${record.brokerId} is not registered`);
    }
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
      return clusterId === this.image.clusterId && controllers === this.image.controllerMap
        ? this.image
        : new ClusterImageImpl(clusterId, this.image.brokerMap, controllers);
    }
    const brokers = new Map(this.image.brokerMap);
    for (const [id, reg] of this.changed) {
      if (reg === null) brokers.delete(id);
      else brokers.set(id, reg);
    }
    return new ClusterImageImpl(clusterId, brokers, controllers);
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
