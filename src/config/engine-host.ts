// The container engine endpoint, in DOCKER_HOST syntax (what docker, dockerode and podman accept).

import { fail, ok, show, type Parsed } from './parsed.ts';

const EXPECTED = 'a DOCKER_HOST-style address like "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375"';

export function parseEngineHost(value: unknown): Parsed<string> {
  if (typeof value !== 'string') return fail(`expected ${EXPECTED}, got ${show(value)}`);
  const text = value.trim();
  if (/^(unix|npipe):\/\/.+$/.test(text) || /^(tcp|http|https|ssh):\/\/[^/\s]+/.test(text)) return ok(text);
  const path = /^(?:unix:)?\/+([^/].*)$/.exec(text);
  if (path !== null) return fail(`expected ${EXPECTED}, got ${show(value)}; did you mean "unix:///${path[1]}"?`);
  return fail(`expected ${EXPECTED}, got ${show(value)}`);
}
