import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkDataDir,
  DataDirCorruptError,
  DataDirMismatchError,
  DataDirNotFormattedError,
  formatDataDir,
  randomClusterId,
  readDataDir,
} from '../src/storage/data-dir.js';

describe('data dir identity', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'raft-datadir-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('formats a new directory, creating it', async () => {
    const dir = join(root, 'a', 'b');
    const before = Date.now();
    const id = await formatDataDir(dir, { clusterId: 'abc', nodeId: 2 });
    expect(id).toMatchObject({ version: 1, clusterId: 'abc', nodeId: 2 });
    expect(Date.parse(id.formattedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(await readDataDir(dir)).toEqual(id);
    const onDisk = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    expect(onDisk).toEqual(id);
    // The temp file was renamed away.
    expect(await readdir(dir)).toEqual(['meta.json']);
  });

  it('is idempotent for the same identity', async () => {
    const first = await formatDataDir(root, { clusterId: 'abc', nodeId: 2 });
    const second = await formatDataDir(root, { clusterId: 'abc', nodeId: 2 });
    expect(second).toEqual(first);
  });

  it('refuses to reformat with a different identity, naming both', async () => {
    await formatDataDir(root, { clusterId: 'abc', nodeId: 2 });
    const err = await formatDataDir(root, { clusterId: 'def', nodeId: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirMismatchError);
    expect(err).toMatchObject({ code: 'DATA_DIR_MISMATCH', dir: root });
    expect((err as Error).message).toBe(
      `data dir ${root} belongs to cluster abc node 2, not cluster def node 1`,
    );
    expect(await readDataDir(root)).toMatchObject({ clusterId: 'abc', nodeId: 2 });
  });

  it('checks the identity', async () => {
    await formatDataDir(root, { clusterId: 'abc', nodeId: 2 });
    expect(await checkDataDir(root, { clusterId: 'abc', nodeId: 2 })).toMatchObject({ clusterId: 'abc' });
    expect(await checkDataDir(root, { nodeId: 2 })).toMatchObject({ clusterId: 'abc', nodeId: 2 });

    const wrongNode = await checkDataDir(root, { clusterId: 'abc', nodeId: 3 }).catch((e: unknown) => e);
    expect(wrongNode).toBeInstanceOf(DataDirMismatchError);
    expect((wrongNode as Error).message).toContain('cluster abc node 2');
    expect((wrongNode as Error).message).toContain('cluster abc node 3');

    const wrongCluster = await checkDataDir(root, { clusterId: 'def', nodeId: 2 }).catch((e: unknown) => e);
    expect(wrongCluster).toMatchObject({
      code: 'DATA_DIR_MISMATCH',
      expected: { clusterId: 'def', nodeId: 2 },
      found: { clusterId: 'abc', nodeId: 2 },
    });
    expect((wrongCluster as Error).message).toMatch(/abc.*node 2.*def.*node 2/);

    const anyCluster = await checkDataDir(root, { nodeId: 1 }).catch((e: unknown) => e);
    expect((anyCluster as Error).message).toBe(`data dir ${root} belongs to cluster abc node 2, not node 1`);
  });

  it('reports an unformatted directory', async () => {
    expect(await readDataDir(root)).toBeUndefined();
    expect(await readDataDir(join(root, 'missing'))).toBeUndefined();
    const err = await checkDataDir(root, { nodeId: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirNotFormattedError);
    expect(err).toMatchObject({ code: 'DATA_DIR_NOT_FORMATTED' });
    expect((err as Error).message).toContain(root);
  });

  it('reports a corrupt meta.json', async () => {
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'meta.json'), '{"version":1,"clusterId":');
    await expect(readDataDir(root)).rejects.toBeInstanceOf(DataDirCorruptError);
    await writeFile(join(root, 'meta.json'), JSON.stringify({ version: 2, clusterId: 'x', nodeId: 1 }));
    await expect(checkDataDir(root, { nodeId: 1 })).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT' });
  });

  it('rejects invalid identities', async () => {
    await expect(formatDataDir(root, { clusterId: '', nodeId: 1 })).rejects.toBeInstanceOf(TypeError);
    await expect(formatDataDir(root, { clusterId: 'abc', nodeId: 0 })).rejects.toBeInstanceOf(TypeError);
    await expect(formatDataDir(root, { clusterId: 'abc', nodeId: 1.5 })).rejects.toBeInstanceOf(TypeError);
  });

  it('generates 22-character base64url cluster ids', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const id = randomClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
      ids.add(id);
    }
    expect(ids.size).toBe(100);
  });
});
