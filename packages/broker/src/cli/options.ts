/** Option value parsers shared by the commands: each throws commander's InvalidArgumentError. */
import { InvalidArgumentError } from 'commander';
import { parseHostPort } from '../node/config.js';
import { parseSetting, type SettingKey } from './config-file.js';

/** Wraps a parser that throws any Error into one commander reports as an invalid argument. */
export function arg<T>(parse: (value: string) => T): (value: string) => T {
  return (value: string) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** A start/format setting, checked as the config file checks it. */
export function settingArg<K extends SettingKey>(key: K) {
  return arg((value: string) => parseSetting(key, value));
}

export function intArg(what: string, min: number) {
  return arg((value: string) => {
    const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      const range =
        min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
      throw new Error(`${what} must be ${range}`);
    }
    return n;
  });
}

/** `host:port[,host:port...]`. */
export const serversArg = arg((value: string) => {
  const servers = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new Error('expected host:port[,host:port...]');
  for (const s of servers) parseHostPort(s, 'each bootstrap server');
  return servers;
});

export const hostPortArg = (what: string) =>
  arg((value: string) => {
    parseHostPort(value.trim(), what);
    return value.trim();
  });

/** A repeatable option: each occurrence appended. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
