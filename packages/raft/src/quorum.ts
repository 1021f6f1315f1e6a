import type { Member } from './core/types.js';

/** The controller quorum port when `--controller-quorum` names a host without one (KRaft's default). */
export const DEFAULT_QUORUM_PORT = 9093;

export class QuorumSpecError extends Error {
  override readonly name = 'QuorumSpecError';
  readonly code = 'INVALID_QUORUM_SPEC';
}

/**
 * Parses a voter set written as `1@host:port,2@host,3@[::1]:9093` (port optional, default 9093).
 * Ids are positive integers and unique; hosts non-empty.
 */
export function parseQuorum(spec: string): Member[] {
  const voters: Member[] = [];
  const seen = new Set<number>();
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0)
    throw new QuorumSpecError('the controller quorum is empty: expected id@host:port,...');
  for (const part of parts) {
    const at = part.indexOf('@');
    const idText = at > 0 ? part.slice(0, at) : '';
    const id = Number(idText);
    if (!/^\d+$/.test(idText) || id < 1 || !Number.isSafeInteger(id)) {
      throw new QuorumSpecError(
        `invalid voter ${JSON.stringify(part)}: expected id@host[:port] with a positive id`,
      );
    }
    if (seen.has(id)) throw new QuorumSpecError(`voter id ${id} is listed twice`);
    seen.add(id);
    voters.push({ id, address: normalizeHostPort(part.slice(at + 1), part) });
  }
  return voters;
}

function normalizeHostPort(hostPort: string, whole: string): string {
  let host: string;
  let port = DEFAULT_QUORUM_PORT;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new QuorumSpecError(`invalid voter ${JSON.stringify(whole)}: unclosed [`);
    host = hostPort.slice(0, close + 1);
    const rest = hostPort.slice(close + 1);
    if (rest !== '') port = parsePort(rest.startsWith(':') ? rest.slice(1) : '', whole);
  } else {
    const colon = hostPort.lastIndexOf(':');
    host = colon >= 0 ? hostPort.slice(0, colon) : hostPort;
    if (colon >= 0) port = parsePort(hostPort.slice(colon + 1), whole);
  }
  if (host === '' || /[\s@,]/.test(host))
    throw new QuorumSpecError(`invalid voter ${JSON.stringify(whole)}: bad host`);
  return `${host}:${port}`;
}

function parsePort(text: string, whole: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new QuorumSpecError(`invalid voter ${JSON.stringify(whole)}: port must be 1-65535`);
  }
  return port;
}

/** The inverse of parseQuorum. */
export function formatQuorum(voters: readonly Member[]): string {
  return voters.map((v) => `${v.id}@${v.address}`).join(',');
}
