export { RaftLog } from './log.js';
export { RaftCore, RaftInvariantError } from './raft.js';
export * from './types.js';
