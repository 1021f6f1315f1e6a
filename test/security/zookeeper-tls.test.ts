/**
 * The ZooKeeper listener over TLS (certificates made at test time): a TLS client is served (`ruok`,
 * a connect handshake), plain TCP is refused and the refusal logged; with client authentication
 * required, a TLS client without a certificate from the CA is refused too.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type Logger, pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZooKeeperServer } from '../../packages/zk-view/src/server/server.js';
import { kafkaTree } from '../../packages/zk-view/test/helpers/memory-tree.js';
import { createTestCa, type Leaf, type TestCa } from './helpers/certs.js';

let ca: TestCa;
let leaf: Leaf;
const servers: ZooKeeperServer[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  leaf = await ca.issue('zk');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await ca?.remove();
});

function capture(): { logger: Logger; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
  return { logger: pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) }), lines };
}

async function serve(mutual: boolean, logger: Logger): Promise<number> {
  const server = new ZooKeeperServer({
    tree: kafkaTree(),
    logger,
    tls: { cert: leaf.cert, key: leaf.key, ca: ca.ca, requestCert: mutual, rejectUnauthorized: mutual },
  });
  servers.push(server);
  return (await server.listen(0, '127.0.0.1')).port;
}

/** What the server answers a four-letter word with, over `socket` (sent twice: a TLS record header is 5 bytes). */
function answer(socket: net.Socket, ready: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      text += c;
    });
    socket.once(ready, () => socket.write(ready === 'connect' ? 'ruokruok' : 'ruok'));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
}

describe('ZooKeeper listener over TLS', () => {
  it('serves TLS clients that trust the CA and refuses plain TCP, logging it', async () => {
    const { logger, lines } = capture();
    const port = await serve(false, logger);
    const ok = await answer(tls.connect({ host: '127.0.0.1', port, ca: ca.ca }), 'secureConnect');
    expect(ok).toBe('imok');
    const plain = await answer(net.connect({ host: '127.0.0.1', port }), 'connect');
    expect(plain).toBe('');
    for (let i = 0; !lines.some((l) => l.msg === 'zk refusing a connection: TLS handshake failed'); i++) {
      if (i > 500) throw new Error('the refusal was not logged');
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it('with client authentication, a client without a certificate from the CA gets nothing', async () => {
    const port = await serve(true, pino({ level: 'silent' }));
    const stranger = await createTestCa('other-ca');
    try {
      const other = await stranger.issue('intruder');
      const refused = await answer(
        tls.connect({ host: '127.0.0.1', port, ca: ca.ca, cert: other.cert, key: other.key }),
        'secureConnect',
      );
      expect(refused).toBe('');
      const member = await ca.issue('member');
      const accepted = await answer(
        tls.connect({ host: '127.0.0.1', port, ca: ca.ca, cert: member.cert, key: member.key }),
        'secureConnect',
      );
      expect(accepted).toBe('imok');
    } finally {
      await stranger.remove();
    }
  });
});
