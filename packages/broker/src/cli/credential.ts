/**
 * `kbroker credential --user alice --permission write`: reads a password (from `--password-file`, else
 * the first line of stdin) and prints the user's entry for `--users-file`: the SCRAM-SHA-256 salted
 * hash for the client listener and ZooKeeper's digest for `addauth digest`. The password is not kept.
 */
import { readFile } from 'node:fs/promises';
import { formatScramCredential, scramCredential } from '@kbroker/client/scram';
import type { Command } from 'commander';
import { PERMISSIONS, zkDigest } from '../node/security.js';
import { type CliContext, CliError, UsageError } from './context.js';
import { toJson } from './format.js';
import { arg, intArg } from './options.js';

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

export function registerCredential(program: Command, ctx: CliContext): void {
  program
    .command('credential')
    .description("print a user's entry for --users-file (salted SCRAM hash and ZooKeeper digest)")
    .requiredOption(
      '--user <name>',
      'the user name',
      arg((v) => {
        if (!/^[A-Za-z0-9._@-]{1,64}$/.test(v)) throw new Error('a user name is 1-64 of A-Z a-z 0-9 . _ @ -');
        return v;
      }),
    )
    .option(
      '--permission <level>',
      `${PERMISSIONS.join(', ')} (default read)`,
      arg((v) => {
        if (!(PERMISSIONS as readonly string[]).includes(v))
          throw new Error(`the permission must be one of ${PERMISSIONS.join(', ')}`);
        return v;
      }),
      'read',
    )
    .option('--password-file <file>', 'read the password from this file (first line); default: stdin')
    .option('--iterations <n>', 'PBKDF2 iterations (default 4096)', intArg('--iterations', 1024), 4096)
    .action(
      async (flags: { user: string; permission: string; passwordFile?: string; iterations: number }) => {
        let password: string;
        if (flags.passwordFile !== undefined) {
          try {
            password = (await readFile(flags.passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
          } catch (err) {
            const e = err as NodeJS.ErrnoException;
            throw new CliError(
              `cannot read the password file ${flags.passwordFile}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`,
            );
          }
        } else {
          password = await firstLine(ctx.stdin);
        }
        if (password === '') throw new UsageError('the password is empty');
        ctx.out(
          toJson({
            name: flags.user,
            permission: flags.permission,
            scram: formatScramCredential(scramCredential(password, flags.iterations)),
            zkDigest: zkDigest(flags.user, password),
          }),
        );
      },
    );
}
