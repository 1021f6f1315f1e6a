/**
 * The examples of `examples/` (those `docs/client.md` shows) keep working: `examples/run-all.mjs` runs
 * each as its own process against its own in-process cluster and exits non-zero when any fails.
 * Needs the build (`tsc -b`, as `npm test` does first).
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('examples', () => {
  it('every example runs and exits 0', async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done, fail) => {
      const child = spawn(process.execPath, ['examples/run-all.mjs'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.on('error', fail);
      child.on('close', (exit) => done({ code: exit, output }));
    });
    // The whole transcript on failure, so the failing example's output is in the report.
    expect(code, output).toBe(0);
    expect(output).toMatch(/(\d+)\/\1 examples passed/);
  }, 300_000);
});
