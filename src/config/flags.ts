// `portwake proxy` flags → a one-service PortwakeConfig, through the same schema and rules as the
// file, with every message naming the flag: `--idle: expected a duration like "10m", got "ten"`.

import { ConfigError, type ConfigIssue } from './errors.ts';
import type { Locator, Path } from './locator.ts';
import { show } from './parsed.ts';
import { SERVICE_NAME } from './schema.ts';
import { didYouMean } from './suggest.ts';
import type { PortwakeConfig } from './types.ts';
import { validate } from './validate.ts';

/** As the CLI parsed them; numbers may still be strings. undefined: not given. */
export interface ProxyFlags {
  listen: readonly string[];
  container: string;
  /** Service name (logs, metrics, status); default: the container name. */
  name?: string | undefined;
  upstream?: string | undefined;
  port?: string | number | undefined;
  /** `tcp`, `health`, `http`, `http:/PATH` or `delay:DURATION`. */
  ready?: string | undefined;
  startTimeout?: string | undefined;
  idle?: string | undefined;
  stopTimeout?: string | undefined;
  maxConnections?: string | number | undefined;
  maxPending?: string | number | undefined;
  socketMode?: string | undefined;
  engine?: string | undefined;
  /** Control API address (`unix:/path` or `HOST:PORT`) and its token. */
  control?: string | undefined;
  token?: string | undefined;
  /** The control API token's file (control.tokenFile). */
  tokenFile?: string | undefined;
}

export const FLAG_SOURCE = '<flags>';

/** Service key → the flag that sets it. */
const SERVICE_FLAGS = {
  listen: '--listen',
  socketMode: '--socket-mode',
  container: '--container',
  port: '--port',
  upstream: '--upstream',
  ready: '--ready',
  startTimeout: '--start-timeout',
  idleTimeout: '--idle',
  stopTimeout: '--stop-timeout',
  maxConnections: '--max-connections',
  maxPending: '--max-pending',
} as const satisfies Record<string, string>;

const FLAG_VALUES: ReadonlyArray<readonly [keyof typeof SERVICE_FLAGS, keyof ProxyFlags]> = [
  ['socketMode', 'socketMode'], ['port', 'port'], ['upstream', 'upstream'], ['startTimeout', 'startTimeout'],
  ['idleTimeout', 'idle'], ['stopTimeout', 'stopTimeout'], ['maxConnections', 'maxConnections'], ['maxPending', 'maxPending'],
];

/**
 * Builds and validates the config; throws a ConfigError listing every bad flag. Relative unix:
 * paths resolve against cwd (default: the process's working directory).
 */
export function configFromFlags(flags: ProxyFlags, options: { cwd?: string; tokenFromEnvironment?: boolean } = {}): PortwakeConfig {
  const name = flags.name ?? (SERVICE_NAME.test(flags.container) ? flags.container : 'proxy');
  const service: Record<string, unknown> = { listen: [...flags.listen], container: flags.container };
  for (const [key, flag] of FLAG_VALUES) {
    if (flags[flag] !== undefined) service[key] = flags[flag];
  }
  const early: ConfigIssue[] = [];
  if (flags.ready !== undefined) {
    const ready = readyFromFlag(flags.ready);
    if (typeof ready === 'string') early.push({ line: undefined, col: undefined, path: '--ready', message: ready });
    else service.ready = ready.value;
  }
  const root: Record<string, unknown> = { services: { [name]: service } };
  if (flags.engine !== undefined) root.engine = flags.engine;
  if (flags.control !== undefined) {
    const control: Record<string, unknown> = { listen: flags.control };
    if (flags.token !== undefined) control.token = flags.token;
    if (flags.tokenFile !== undefined) control.tokenFile = flags.tokenFile;
    root.control = control;
  } else {
    for (const [flag, value] of [['--token', flags.token], ['--token-file', flags.tokenFile]] as const) {
      if (value !== undefined) early.push({ line: undefined, col: undefined, path: flag, message: 'needs --control (the token protects the control API)' });
    }
  }

  const result = validate(root, flagLocator, { baseDir: options.cwd ?? process.cwd(), tokenFromEnvironment: options.tokenFromEnvironment });
  const issues = [...early, ...(result.ok ? [] : result.issues)];
  if (issues.length > 0 || !result.ok) throw new ConfigError(FLAG_SOURCE, issues, undefined);
  return { source: FLAG_SOURCE, ...result.config };
}

/** The YAML-equivalent value of --ready (and of the ready label: labels.ts), or a message. */
export function readyFromFlag(text: string): { value: unknown } | string {
  const t = text.trim();
  if (t === 'tcp' || t === 'health' || t === 'http') return { value: t };
  if (t.startsWith('http:')) return { value: { http: t.slice('http:'.length) } };
  if (t.startsWith('delay:')) return { value: { delay: t.slice('delay:'.length) } };
  const word = t.split(':')[0] ?? t;
  return `expected tcp, health, http, http:/PATH or delay:DURATION, got ${show(text)}${didYouMean(word, ['tcp', 'health', 'http', 'delay'])}`;
}

function flagName(path: Path): string {
  const [first, , key] = path;
  if (first === 'engine') return '--engine';
  if (first === 'control') return path[1] === 'token' ? '--token' : path[1] === 'tokenFile' ? '--token-file' : '--control';
  if (first === 'services' && path.length === 2) return '--name';
  if (first === 'services' && typeof key === 'string' && key in SERVICE_FLAGS) return SERVICE_FLAGS[key as keyof typeof SERVICE_FLAGS];
  return path.map(String).join('.');
}

const flagLocator: Locator = {
  name: flagName,
  position: () => undefined,
  reference: flagName,
};
