/**
 * A throwaway certificate authority for TLS tests, made with the `openssl` command line at test time:
 * a CA, and leaf certificates it signs (for 127.0.0.1 and localhost, usable as server and client).
 * A second, unrelated CA makes certificates a node must refuse.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Leaf {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestCa {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: string;
  /** A certificate signed by this CA, for `name` (CN), valid for 127.0.0.1 and localhost. */
  issue(name: string): Promise<Leaf>;
  remove(): Promise<void>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createTestCa(name = 'kbroker-test-ca'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'kbroker-ca-'));
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run('openssl', [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
  ]);
  const ext = join(dir, 'leaf.ext');
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n',
  );
  const ca = await readFile(caFile, 'utf8');
  let serial = 1;
  return {
    dir,
    caFile,
    ca,
    async issue(leafName: string): Promise<Leaf> {
      const base = join(dir, leafName.replace(/[^a-zA-Z0-9-]/g, '_'));
      const keyFile = `${base}.key`;
      const csr = `${base}.csr`;
      const certFile = `${base}.crt`;
      await run('openssl', ['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${leafName}`]);
      await run('openssl', [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caFile,
        '-CAkey',
        caKey,
        '-set_serial',
        String(serial++),
        '-out',
        certFile,
        '-days',
        '2',
        '-extfile',
        ext,
      ]);
      return {
        certFile,
        keyFile,
        cert: await readFile(certFile, 'utf8'),
        key: await readFile(keyFile, 'utf8'),
      };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
