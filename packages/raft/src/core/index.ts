export { RaftLog } from './log.js';
export { RaftCore, RaftInvariantError } from './raft.js';
export { unsafeForceMembership } from './recovery.js';
export * from './types.js';
