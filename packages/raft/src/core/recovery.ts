import { RaftLog } from './log.js';
import { type Entry, EntryKind, type HardState, type InitialState, type Membership } from './types.js';

/**
 * UNSAFE recovery after a quorum is permanently lost: forces `membership` as the voter set of the node
 * whose durable state is `initial`, by appending a membership entry in a term no leader has used.
 *
 * Run it on ONE surviving node (the one with the most up-to-date log), then start that node; the
 * other survivors listed in `membership` rejoin as they are and are brought in line by the new leader.
 * Entries that only the lost nodes held are gone, and entries this node held but never committed may
 * become committed: that is the price of recovering without a quorum, hence the name.
 */
export function unsafeForceMembership(
  initial: InitialState,
  membership: Membership,
): { hardState: HardState; entry: Entry } {
  if (membership.voters.length === 0) throw new Error('the forced voter set is empty');
  const log = new RaftLog(initial.snapshot, initial.entries);
  // A term above every term this node has seen: no leader can have written an entry in it, so the
  // forced entry cannot collide with an existing (index, term) anywhere (log matching holds).
  const term = Math.max(initial.hardState.term, log.lastTerm()) + 1;
  const entry: Entry = { index: log.lastIndex() + 1, term, kind: EntryKind.Membership, membership };
  return { hardState: { term, vote: 0, commit: initial.hardState.commit }, entry };
}
