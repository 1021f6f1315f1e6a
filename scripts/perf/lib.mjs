// Shared by the perf scripts: the option check, output, and the CPU of a process. Needs `npx tsc -b`.
import { parseArgs } from 'node:util';

const dist = new URL('../../packages/', import.meta.url).pathname;
const { threadCpuMs } = await import(`${dist}zk-view/dist/bench/cpu-profile.js`);

export const out = (line) => process.stdout.write(`${line}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * --clients, --topics, --duration-ms (with these defaults) plus `extra` options; exits with a usage
 * line when one is out of range.
 */
export function loadOptions(defaults, extra = {}) {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: String(defaults.clients) },
      topics: { type: 'string', default: String(defaults.topics) },
      'duration-ms': { type: 'string', default: String(defaults.durationMs) },
      ...extra,
    },
  });
  const opts = {
    ...values,
    clients: Number(values.clients),
    topics: Number(values.topics),
    durationMs: Number(values['duration-ms']),
  };
  if (!(opts.clients >= 1 && opts.topics >= defaults.minTopics && opts.durationMs >= 1000)) {
    process.stderr.write(`--clients >= 1, --topics >= ${defaults.minTopics} and --duration-ms >= 1000\n`);
    process.exit(2);
  }
  return opts;
}

/** CPU ms of a process so far, all threads, user + system (the benchmark's own /proc reader). */
export async function cpuMs(pid) {
  const t = await threadCpuMs(pid);
  return t === undefined ? 0 : t.mainMs + t.otherMs;
}
