/**
 * Permission checks of the ZooKeeper listener when users are configured: a client is a user once it
 * has run `addauth digest user:password` with a known user's password; only users with write (or
 * admin) permission may write.
 */
import { ErrorCode, type WriteHandler } from '@kbroker/zk-view';
import type { User } from './security.js';

/** The configured user a connection's digest ids prove, if any. */
export function zkUser(
  users: ReadonlyMap<string, User>,
  authIds: readonly { readonly scheme: string; readonly id: string }[],
): User | undefined {
  for (const a of authIds) {
    if (a.scheme !== 'digest') continue;
    const name = a.id.slice(0, a.id.indexOf(':'));
    const user = users.get(name);
    if (user?.zkDigest === a.id) return user;
  }
  return undefined;
}

/** Wraps a write handler: without users everything passes; with them, writes need a writing user. */
export function zkWriteGuard(
  inner: WriteHandler,
  users: ReadonlyMap<string, User> | undefined,
): WriteHandler {
  if (users === undefined) return inner;
  return {
    write: (ops, ctx) => {
      const user = zkUser(users, ctx.authIds);
      if (user === undefined || user.permission === 'read') {
        return Promise.resolve({
          ok: false,
          error: ErrorCode.NOAUTH,
          reason:
            user === undefined
              ? 'writes need addauth digest of a user with write permission'
              : `user ${user.name} may only read`,
        });
      }
      return inner.write(ops, ctx);
    },
  };
}
