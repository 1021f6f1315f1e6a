import { describe, expect, it } from 'vitest';
import {
  CONTROLLER_ERRORS,
  ControllerError,
  type ControllerErrorCode,
  kafkaErrorCode,
  toApiError,
} from '../src/controller/errors.js';

describe('ControllerError', () => {
  it("carries Kafka's protocol error codes", () => {
    const expected: Partial<Record<ControllerErrorCode, number>> = {
      UNKNOWN_SERVER_ERROR: -1,
      UNKNOWN_TOPIC_OR_PARTITION: 3,
      REQUEST_TIMED_OUT: 7,
      INVALID_TOPIC_EXCEPTION: 17,
      TOPIC_ALREADY_EXISTS: 36,
      INVALID_PARTITIONS: 37,
      INVALID_REPLICATION_FACTOR: 38,
      INVALID_REPLICA_ASSIGNMENT: 39,
      INVALID_CONFIG: 40,
      NOT_CONTROLLER: 41,
      INVALID_REQUEST: 42,
      GROUP_ID_NOT_FOUND: 69,
      FENCED_LEADER_EPOCH: 74,
      STALE_BROKER_EPOCH: 77,
      PREFERRED_LEADER_NOT_AVAILABLE: 80,
      ELIGIBLE_LEADERS_NOT_AVAILABLE: 83,
      ELECTION_NOT_NEEDED: 84,
      INVALID_UPDATE_VERSION: 95,
      DUPLICATE_BROKER_REGISTRATION: 101,
      BROKER_ID_NOT_REGISTERED: 102,
      INELIGIBLE_REPLICA: 107,
      NEW_LEADER_ELECTED: 108,
    };
    for (const [code, n] of Object.entries(expected)) {
      expect(new ControllerError(code as ControllerErrorCode).errorCode, code).toBe(n);
      expect(kafkaErrorCode(code as ControllerErrorCode)).toBe(n);
    }
  });

  it("classifies retriability as Kafka's exceptions do", () => {
    const retriable = Object.entries(CONTROLLER_ERRORS)
      .filter(([, s]) => s.retriable)
      .map(([c]) => c)
      .sort();
    expect(retriable).toEqual(
      [
        'ELECTION_NOT_NEEDED',
        'ELIGIBLE_LEADERS_NOT_AVAILABLE',
        'FENCED_LEADER_EPOCH',
        'LEADER_NOT_AVAILABLE',
        'NOT_CONTROLLER',
        'NOT_ENOUGH_REPLICAS',
        'NOT_LEADER_OR_FOLLOWER',
        'PREFERRED_LEADER_NOT_AVAILABLE',
        'REQUEST_TIMED_OUT',
        'THROTTLING_QUOTA_EXCEEDED',
        'UNKNOWN_TOPIC_ID',
        'UNKNOWN_TOPIC_OR_PARTITION',
      ].sort(),
    );
    expect(new ControllerError('STALE_BROKER_EPOCH').retriable).toBe(false);
    expect(new ControllerError('NOT_CONTROLLER').retriable).toBe(true);
  });

  it('has no two names sharing a code, except the catch-all', () => {
    const codes = Object.values(CONTROLLER_ERRORS).map((s) => s.errorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("uses Kafka's default message unless given one, and keeps leaderId and cause", () => {
    const e = new ControllerError('TOPIC_ALREADY_EXISTS');
    expect(e.message).toBe('Topic with this name already exists.');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ControllerError');
    expect(e.code).toBe('TOPIC_ALREADY_EXISTS');
    const cause = new Error('boom');
    const n = new ControllerError('NOT_CONTROLLER', 'node 3 is', { leaderId: 3, cause });
    expect(n.message).toBe('node 3 is');
    expect(n.leaderId).toBe(3);
    expect(n.cause).toBe(cause);
    expect(new ControllerError('INVALID_REQUEST').leaderId).toBeUndefined();
  });

  it('maps anything thrown to a response error', () => {
    expect(toApiError(new ControllerError('INVALID_CONFIG', 'bad'))).toEqual({
      errorCode: 40,
      errorMessage: 'bad',
    });
    expect(toApiError(new TypeError('oops'))).toEqual({ errorCode: -1, errorMessage: 'oops' });
    expect(toApiError('str')).toEqual({ errorCode: -1, errorMessage: 'str' });
  });
});
