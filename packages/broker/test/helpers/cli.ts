import { type MainOptions, main } from '../../src/cli/main.js';

/** A writer that keeps what the CLI printed. */
export function sink() {
  let text = '';
  return {
    write(s: string) {
      text += s;
      return true;
    },
    get text() {
      return text;
    },
  };
}

/** Runs `kbroker <args>` in-process and returns its exit code and output. */
export async function runCli(args: string[], options: Omit<MainOptions, 'stdout' | 'stderr'> = {}) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(['node', 'kbroker', ...args], { ...options, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
