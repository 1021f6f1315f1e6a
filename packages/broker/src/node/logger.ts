import { type Logger, pino } from 'pino';

/** The node's logger: pino JSON on stderr with the node id and roles on every line. */
export function createLogger(level: string, nodeId: number, roles: readonly string[]): Logger {
  return pino({ level, base: { nodeId, roles: roles.join(',') } }, pino.destination(2));
}
