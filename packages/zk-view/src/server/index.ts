export { DEFAULT_FOUR_LETTER_WORDS, KNOWN_FOUR_LETTER_WORDS } from './four-letter.js';
export { ClientView, invalidPathReason, toClientPath, toTreePath } from './paths.js';
export { ZooKeeperServer, type ZooKeeperServerOptions } from './server.js';
export {
  InMemorySessionStore,
  type InMemorySessionStoreOptions,
  type SessionEndReason,
  type SessionRecord,
  type SessionStore,
} from './session-store.js';
export type { WatchKind } from './watches.js';
export type { WriteContext, WriteHandler, WriteOp, WriteOpResult, WriteResult } from './write-handler.js';
