// A container's labels → one service (discovery, docs/discovery.md). Labels map one to one to the
// file's keys through LABELS (a row per label: add one for a new key); the values go through the
// same schema and rules as the file, so a bad label is reported as precisely as a bad line:
// `container "shop-app-1": label portwake.idle-timeout: expected a duration like "10m", got "ten"`.

import { DEFAULT_LABEL_PREFIX } from './discovery.ts';
import type { ConfigIssue } from './errors.ts';
import { readyFromFlag } from './flags.ts';
import { formatPath, type Locator, type Path } from './locator.ts';
import { parseServiceName } from './schema.ts';
import { closest } from './suggest.ts';
import type { ServiceConfig } from './types.ts';
import { validate } from './validate.ts';

/** One label: its name after the prefix, the service key it sets, and its text as the file would write the value. */
export interface LabelRow {
  label: string;
  key: string;
  /** The YAML-equivalent value, or a message saying what is wrong. */
  value(text: string): { value: unknown } | string;
}

const asText = (text: string): { value: unknown } => ({ value: text.trim() });
/** One item or several, comma-separated: the file's list. */
const asList = (text: string): { value: unknown } => {
  const items = text.split(',').map((s) => s.trim());
  return { value: items.length === 1 ? items[0] : items };
};

/** Every label but `name` (the service's key, not a field): label → service key. */
export const LABELS: readonly LabelRow[] = [
  { label: 'listen', key: 'listen', value: asList },
  { label: 'port', key: 'port', value: asText },
  { label: 'upstream', key: 'upstream', value: asText },
  { label: 'ready', key: 'ready', value: readyFromFlag },
  { label: 'idle-timeout', key: 'idleTimeout', value: asText },
  { label: 'start-timeout', key: 'startTimeout', value: asText },
  { label: 'stop-timeout', key: 'stopTimeout', value: asText },
  { label: 'max-connections', key: 'maxConnections', value: asText },
  { label: 'max-pending', key: 'maxPending', value: asText },
  { label: 'depends-on', key: 'dependsOn', value: asList },
  { label: 'idle-action', key: 'idleAction', value: asText },
  { label: 'stop-after', key: 'stopAfter', value: asText },
  { label: 'idle-on', key: 'idleOn', value: asText },
  { label: 'hold-timeout', key: 'holdTimeout', value: asText },
  { label: 'restart-policy', key: 'restartPolicy', value: asText },
  { label: 'proxy-protocol', key: 'proxyProtocol', value: asText },
  { label: 'hosts', key: 'hosts', value: asList },
  { label: 'paths', key: 'paths', value: asList },
  { label: 'strategy', key: 'strategy', value: asText },
  { label: 'tls-port', key: 'tlsPort', value: asText },
];

/** Which of the HTTP and TLS routers the file has: a container's hosts label needs one. */
export interface Routers { http: boolean; tls: boolean }
const NO_ROUTERS: Routers = { http: false, tls: false };

/** The label that names the service; default: the compose service, else the container name. */
export const NAME_LABEL = 'name';
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';

export interface LabelledContainer {
  id: string;
  /** Without the leading slash. */
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** One problem with a container's labels; `label` undefined: not one label's fault. */
export interface LabelProblem {
  container: string;
  /** The container's engine, when it is not the default one. */
  engine?: string;
  label: string | undefined;
  message: string;
}

export type LabelService =
  | { ok: true; service: ServiceConfig; /** The label each service key came from, for messages. */ labelOf(key: string): string }
  | { ok: false; problems: LabelProblem[] };

export function formatLabelProblem(p: LabelProblem): string {
  return `container "${p.container}"${p.engine === undefined ? '' : ` on engine "${p.engine}"`}: ${p.label === undefined ? '' : `label ${p.label}: `}${p.message}`;
}

/**
 * The service a labelled container describes, or every problem with its labels. Unknown labels
 * under the prefix are problems (with a did-you-mean), as unknown keys are in the file.
 */
export function serviceFromLabels(c: LabelledContainer, prefix: string = DEFAULT_LABEL_PREFIX, routers: Routers = NO_ROUTERS): LabelService {
  const full = (label: string): string => `${prefix}.${label}`;
  const problems: LabelProblem[] = [];
  const problem = (label: string | undefined, message: string): void => { problems.push({ container: c.name, label, message }); };
  const service: Record<string, unknown> = { container: c.name };
  const labelOfKey = new Map<string, string>();
  for (const [label, text] of Object.entries(c.labels)) {
    if (!label.startsWith(`${prefix}.`)) continue;
    const suffix = label.slice(prefix.length + 1);
    if (suffix === NAME_LABEL) continue;
    const row = LABELS.find((r) => r.label === suffix);
    if (row === undefined) {
      const near = closest(suffix, [...LABELS.map((r) => r.label), NAME_LABEL]);
      problem(label, `unknown label${near === undefined ? '' : `; did you mean "${full(near)}"?`}`);
      continue;
    }
    const value = row.value(text);
    if (typeof value === 'string') problem(label, value);
    else service[row.key] = value.value;
    labelOfKey.set(row.key, label);
  }
  const named = c.labels[full(NAME_LABEL)];
  const compose = c.labels[COMPOSE_SERVICE_LABEL];
  const name = named ?? compose ?? c.name;
  const validName = parseServiceName(name);
  if (!validName.ok) {
    const from = named !== undefined ? undefined : compose !== undefined ? `(from label ${COMPOSE_SERVICE_LABEL}) ` : '(the container name) ';
    problem(named !== undefined ? full(NAME_LABEL) : undefined, `${from ?? ''}${validName.message}${named === undefined ? `; set label ${full(NAME_LABEL)}` : ''}`);
  }
  // Without listen: a dependency only (started by the services that name it in depends-on; merge.ts checks that one does).
  if (service.listen !== undefined && anySystemd(service.listen)) {
    problem(full('listen'), 'systemd: sockets are passed when systemd starts portwake, not to a discovered container; use a file service, or a TCP or unix: address');
  }

  const labelName = (path: Path): string => {
    const [first, , key, ...rest] = path;
    if (first !== 'services') return formatPath(path);
    if (key === undefined) return full(NAME_LABEL);
    const label = typeof key === 'string' ? labelOfKey.get(key) : undefined;
    if (label === undefined) return formatPath(path);
    // listen[1]: the second of the comma-separated addresses.
    return rest.length > 0 && typeof rest[0] === 'number' ? `${label} (address ${rest[0] + 1})` : label;
  };
  const locator: Locator = { name: labelName, position: () => undefined, reference: labelName };
  // Validated even when something is wrong already, so that every problem is reported at once.
  // One service of a larger set: the rules about the whole set (depends-on names, a dependency
  // without listen) are checked once every container is known (merge.ts).
  const result = validate({ services: { [validName.ok ? name : 'service']: service } }, locator, { oneOfMany: true, routers });
  if (!result.ok) problems.push(...result.issues.map((i) => fromIssue(c.name, i)));
  if (!result.ok || problems.length > 0) return { ok: false, problems };
  const parsed = result.config.services[0];
  if (parsed === undefined) return { ok: false, problems: [{ container: c.name, label: undefined, message: 'describes no service' }] };
  return { ok: true, service: parsed, labelOf: (key) => labelOfKey.get(key) ?? full(key) };
}

function anySystemd(listen: unknown): boolean {
  const items = Array.isArray(listen) ? listen : [listen];
  return items.some((i) => typeof i === 'string' && /^systemd(:|$)/.test(i.trim()));
}

function fromIssue(container: string, i: ConfigIssue): LabelProblem {
  // Issue paths are label names already (the locator above), or a dotted path for anything else.
  return i.path.startsWith('services') || i.path === '' ? { container, label: undefined, message: `${i.path === '' ? '' : `${i.path}: `}${i.message}` } : { container, label: i.path, message: i.message };
}

/** Whether a container is discovery's: it has a label under the prefix (`portwake.listen`, or any other for a dependency). */
export function hasPrefixLabel(labels: Readonly<Record<string, string>>, prefix: string): boolean {
  return Object.keys(labels).some((l) => l.startsWith(`${prefix}.`));
}
