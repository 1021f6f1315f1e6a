import { describe, expect, it } from 'vitest';
import {
  type BrokerControlState,
  BrokerHeartbeatTracker,
  calculateNextBrokerState,
  checkBrokerEpoch,
  checkRegistration,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  type HeartbeatRequest,
  isCaughtUp,
  registrationState,
  requireRegisteredBroker,
} from '../src/controller/heartbeats.js';
import type { BrokerRegistration, ClusterImage } from '../src/image/types.js';
import { refusal } from './helpers/refusal.js';

function reg(id: number, over: Partial<BrokerRegistration> = {}): BrokerRegistration {
  return {
    id,
    epoch: 100 + id,
    incarnationId: `inc-${id}`,
    endpoints: [],
    rack: null,
    fenced: false,
    inControlledShutdown: false,
    registeredTimeMs: 0,
    ...over,
  };
}

function cluster(...brokers: BrokerRegistration[]): ClusterImage {
  const m = new Map(brokers.map((b) => [b.id, b]));
  return { clusterId: 'c', broker: (id) => m.get(id), brokers: () => m.values(), brokerCount: m.size };
}

const hb = (over: Partial<HeartbeatRequest> = {}): HeartbeatRequest => ({
  wantFence: false,
  wantShutDown: false,
  currentMetadataOffset: 50,
  ...over,
});

function next(
  current: BrokerControlState,
  request: HeartbeatRequest,
  extra: { leads?: boolean; csOffset?: number; lowest?: number } = {},
) {
  return calculateNextBrokerState({
    current,
    request,
    registrationOffset: 50,
    hasLeaderships: () => extra.leads ?? false,
    controlledShutdownOffset: extra.csOffset ?? -1,
    lowestActiveOffset: () => extra.lowest ?? Number.POSITIVE_INFINITY,
  });
}

describe('calculateNextBrokerState', () => {
  it('has Kafka’s defaults', () => {
    expect(DEFAULT_HEARTBEAT_INTERVAL_MS).toBe(2000);
    expect(DEFAULT_SESSION_TIMEOUT_MS).toBe(9000);
  });

  it('FENCED', () => {
    expect(next('FENCED', hb({ currentMetadataOffset: 49 }))).toBe('FENCED');
    expect(next('FENCED', hb({ currentMetadataOffset: 50 }))).toBe('UNFENCED');
    expect(next('FENCED', hb({ currentMetadataOffset: 60, wantFence: true }))).toBe('FENCED');
    expect(next('FENCED', hb({ wantShutDown: true }))).toBe('SHUTDOWN_NOW');
    expect(next('FENCED', hb({ wantShutDown: true, wantFence: true }))).toBe('SHUTDOWN_NOW');
    expect(isCaughtUp(49, 50)).toBe(false);
    expect(isCaughtUp(50, 50)).toBe(true);
  });

  it('UNFENCED', () => {
    expect(next('UNFENCED', hb())).toBe('UNFENCED');
    expect(next('UNFENCED', hb({ currentMetadataOffset: 0 }))).toBe('UNFENCED');
    expect(next('UNFENCED', hb({ wantFence: true }))).toBe('FENCED');
    expect(next('UNFENCED', hb({ wantFence: true, wantShutDown: true }))).toBe('SHUTDOWN_NOW');
    expect(next('UNFENCED', hb({ wantShutDown: true }), { leads: true })).toBe('CONTROLLED_SHUTDOWN');
    expect(next('UNFENCED', hb({ wantShutDown: true }), { leads: false })).toBe('SHUTDOWN_NOW');
  });

  it('CONTROLLED_SHUTDOWN waits for leaderships to move and for active brokers to catch up', () => {
    const req = hb({ wantShutDown: true });
    expect(next('CONTROLLED_SHUTDOWN', req, { leads: true, csOffset: 10, lowest: 100 })).toBe(
      'CONTROLLED_SHUTDOWN',
    );
    expect(next('CONTROLLED_SHUTDOWN', req, { leads: false, csOffset: 10, lowest: 9 })).toBe(
      'CONTROLLED_SHUTDOWN',
    );
    expect(next('CONTROLLED_SHUTDOWN', req, { leads: false, csOffset: 10, lowest: 10 })).toBe('SHUTDOWN_NOW');
    expect(next('CONTROLLED_SHUTDOWN', req, { leads: false, csOffset: -1, lowest: 10 })).toBe(
      'CONTROLLED_SHUTDOWN',
    );
    expect(next('CONTROLLED_SHUTDOWN', req, { leads: false, csOffset: 10 })).toBe('SHUTDOWN_NOW');
  });

  it('SHUTDOWN_NOW stays', () => {
    expect(next('SHUTDOWN_NOW', hb())).toBe('SHUTDOWN_NOW');
  });

  it('only asks about leaderships when they matter', () => {
    let asked = 0;
    calculateNextBrokerState({
      current: 'UNFENCED',
      request: hb(),
      registrationOffset: 0,
      hasLeaderships: () => {
        asked++;
        return true;
      },
      controlledShutdownOffset: -1,
      lowestActiveOffset: () => 0,
    });
    expect(asked).toBe(0);
  });

  it('reads the state of a registration', () => {
    expect(registrationState(reg(1))).toBe('UNFENCED');
    expect(registrationState(reg(1, { fenced: true }))).toBe('FENCED');
    expect(registrationState(reg(1, { inControlledShutdown: true }))).toBe('CONTROLLED_SHUTDOWN');
  });
});

describe('BrokerHeartbeatTracker', () => {
  it('finds unfenced brokers whose session expired, oldest first', () => {
    const t = new BrokerHeartbeatTracker();
    t.register(1, 0, false);
    t.register(2, 1000, false);
    t.register(3, 2000, true); // fenced brokers are never stale
    t.register(4, 3000, false);
    expect(t.staleBrokers(9000)).toEqual([]);
    expect(t.staleBrokers(9001)).toEqual([1]);
    expect(t.staleBrokers(12_001)).toEqual([1, 2, 4]);
    expect(t.findOneStaleBroker(12_001)).toBe(1);
    expect(t.nextExpiryMs()).toBe(9001);
    t.touch(1, 9500, false, 10);
    expect(t.staleBrokers(12_001)).toEqual([2, 4]);
    expect(t.nextExpiryMs()).toBe(10_001);
    expect(t.staleBrokers(12_001, 20_000)).toEqual([]);
  });

  it('fencing removes a broker from the staleness list; unfencing puts it back', () => {
    const t = new BrokerHeartbeatTracker({ sessionTimeoutMs: 100 });
    t.register(1, 0, false);
    t.fence(1);
    expect(t.staleBrokers(1000)).toEqual([]);
    expect(t.findOneStaleBroker(1000)).toBeUndefined();
    expect(t.nextExpiryMs()).toBeUndefined();
    t.touch(1, 1000, false, 5);
    expect(t.staleBrokers(1101)).toEqual([1]);
    t.touch(1, 1200, true, 5);
    expect(t.get(1)).toMatchObject({ fenced: true, lastContactMs: 1200, metadataOffset: 5 });
    expect(t.staleBrokers(5000)).toEqual([]);
  });

  it('touching an unknown broker starts tracking it', () => {
    const t = new BrokerHeartbeatTracker();
    t.touch(7, 10, false, 3);
    expect(t.get(7)).toEqual({
      brokerId: 7,
      lastContactMs: 10,
      metadataOffset: 3,
      controlledShutdownOffset: -1,
      fenced: false,
    });
    expect(t.size).toBe(1);
    t.remove(7);
    expect(t.get(7)).toBeUndefined();
    t.touch(8, 10, false, 3);
    t.clear();
    expect(t.size).toBe(0);
  });

  it('keeps the contact order even if the clock goes back', () => {
    const t = new BrokerHeartbeatTracker({ sessionTimeoutMs: 100 });
    t.register(1, 1000, false);
    t.register(2, 500, false); // clamped to 1000
    expect(t.get(2)!.lastContactMs).toBe(1000);
    expect(t.staleBrokers(1101)).toEqual([1, 2]);
  });

  it('session validity', () => {
    const t = new BrokerHeartbeatTracker();
    expect(t.hasValidSession(1, 0)).toBe(false);
    t.register(1, 0, false);
    expect(t.hasValidSession(1, 9000)).toBe(true);
    expect(t.hasValidSession(1, 9001)).toBe(false);
    t.fence(1);
    expect(t.hasValidSession(1, 1)).toBe(false);
  });

  it('tracks the controlled-shutdown offset (first one wins) and the lowest active offset', () => {
    const t = new BrokerHeartbeatTracker();
    expect(t.lowestActiveOffset()).toBe(Number.POSITIVE_INFINITY);
    t.register(1, 0, false, 40);
    t.register(2, 0, false, 30);
    t.register(3, 0, true, 5); // fenced: not active
    expect(t.lowestActiveOffset()).toBe(30);
    t.setControlledShutdownOffset(2, 35);
    t.setControlledShutdownOffset(2, 99);
    t.setControlledShutdownOffset(3, 10); // fenced brokers cannot be shutting down
    t.setControlledShutdownOffset(42, 10); // unknown: ignored
    expect(t.get(2)!.controlledShutdownOffset).toBe(35);
    expect(t.get(3)!.controlledShutdownOffset).toBe(-1);
    // Broker 2 is shutting down, so it no longer counts as active.
    expect(t.lowestActiveOffset()).toBe(40);
    const req = hb({ wantShutDown: true });
    expect(t.nextState(2, 'CONTROLLED_SHUTDOWN', req, 0, () => false)).toBe('SHUTDOWN_NOW');
    expect(t.nextState(2, 'CONTROLLED_SHUTDOWN', req, 0, () => true)).toBe('CONTROLLED_SHUTDOWN');
    t.touch(1, 10, false, 20);
    expect(t.nextState(2, 'CONTROLLED_SHUTDOWN', req, 0, () => false)).toBe('CONTROLLED_SHUTDOWN');
    // Fencing clears the shutdown offset; a new registration resets it.
    t.fence(2);
    expect(t.get(2)!.controlledShutdownOffset).toBe(-1);
  });

  it('finds the stale ones among 10,000 brokers, oldest first', () => {
    const t = new BrokerHeartbeatTracker();
    for (let i = 0; i < 10_000; i++) t.register(i, i, false);
    expect(t.staleBrokers(9005)).toEqual([0, 1, 2, 3, 4]);
    expect(t.findOneStaleBroker(9005)).toBe(0);
  });
});

describe('registration and epoch checks', () => {
  const c = cluster(reg(1), reg(2, { fenced: true }));

  it('checkBrokerEpoch', () => {
    expect(checkBrokerEpoch(c, 1, 101).id).toBe(1);
    const stale = refusal(() => checkBrokerEpoch(c, 1, 5));
    expect(stale.code).toBe('STALE_BROKER_EPOCH');
    expect(stale.errorCode).toBe(77);
    expect(stale.message).toBe('Expected broker epoch 101, but got broker epoch 5');
    const missing = refusal(() => checkBrokerEpoch(c, 9, 5));
    expect(missing.code).toBe('STALE_BROKER_EPOCH');
    expect(missing.message).toBe('No broker registration found for broker 9');
  });

  it('requireRegisteredBroker', () => {
    expect(requireRegisteredBroker(c, 2).id).toBe(2);
    const e = refusal(() => requireRegisteredBroker(c, 9));
    expect(e.code).toBe('BROKER_ID_NOT_REGISTERED');
    expect(e.errorCode).toBe(102);
  });

  it('checkRegistration refuses a second live incarnation only', () => {
    const live = () => true;
    const lapsed = () => false;
    expect(() => checkRegistration(c, 3, 'new', live)).not.toThrow();
    expect(() => checkRegistration(c, 1, 'inc-1', live)).not.toThrow();
    expect(() => checkRegistration(c, 1, 'other', lapsed)).not.toThrow();
    const dup = refusal(() => checkRegistration(c, 1, 'other', live));
    expect(dup.code).toBe('DUPLICATE_BROKER_REGISTRATION');
    expect(dup.errorCode).toBe(101);
    expect(refusal(() => checkRegistration(c, -1, 'x', live)).code).toBe('INVALID_REQUEST');
    expect(refusal(() => checkRegistration(c, 1.5, 'x', live)).code).toBe('INVALID_REQUEST');
  });

  it('works with the tracker’s session check', () => {
    const t = new BrokerHeartbeatTracker();
    t.register(1, 0, false);
    expect(refusal(() => checkRegistration(c, 1, 'other', (id) => t.hasValidSession(id, 5000))).code).toBe(
      'DUPLICATE_BROKER_REGISTRATION',
    );
    expect(() => checkRegistration(c, 1, 'other', (id) => t.hasValidSession(id, 9001))).not.toThrow();
  });
});
