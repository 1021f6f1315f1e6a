import type { WireError } from '@kbroker/client/protocol';
import { CONTROLLER_ERRORS, ControllerError } from '@kbroker/metadata-log';

/** Kafka's numbers for the node's own security refusals. */
const SECURITY_ERROR_CODES: Readonly<Record<string, number>> = {
  TOPIC_AUTHORIZATION_FAILED: 29,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  SASL_AUTHENTICATION_FAILED: 58,
};

function kafkaErrorCode(code: string): number | undefined {
  return (
    (CONTROLLER_ERRORS as Readonly<Record<string, { errorCode: number }>>)[code]?.errorCode ??
    SECURITY_ERROR_CODES[code]
  );
}

/** Node-level refusals that are not the controller's (a fenced broker, a wrong cluster id, ...). */
export class NodeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retriable = false,
    readonly leaderId?: number,
  ) {
    super(message);
    this.name = 'NodeError';
  }
}

const RETRIABLE_CODES = new Set(['NOT_LEADER', 'PROPOSAL_DROPPED', 'REQUEST_TIMED_OUT', 'TOO_MANY_REQUESTS']);

/**
 * Maps anything thrown while serving a request to the wire's error shape: controller and node errors
 * keep their codes; Raft errors map to Kafka's (NOT_LEADER -> NOT_CONTROLLER); anything else is an
 * UNKNOWN_SERVER_ERROR, whose message is still sent so the caller sees why.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof ControllerError) {
    return {
      code: err.code,
      errorCode: err.errorCode,
      message: err.message,
      retriable: err.retriable,
      leaderId: err.leaderId,
    };
  }
  if (err instanceof NodeError) {
    return {
      code: err.code,
      errorCode: kafkaErrorCode(err.code) ?? -1,
      message: err.message,
      retriable: err.retriable,
      leaderId: err.leaderId,
    };
  }
  const e = err as { code?: unknown; message?: unknown; leaderId?: unknown; retriable?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'UNKNOWN_SERVER_ERROR';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code === 'NOT_LEADER') {
    return {
      code: 'NOT_CONTROLLER',
      errorCode: 41,
      message,
      retriable: true,
      leaderId: typeof e.leaderId === 'number' ? e.leaderId : undefined,
    };
  }
  const known = kafkaErrorCode(code);
  return {
    code,
    errorCode: known ?? -1,
    message,
    retriable: typeof e.retriable === 'boolean' ? e.retriable : RETRIABLE_CODES.has(code),
  };
}
