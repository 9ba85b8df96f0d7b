// The container engine endpoint, in DOCKER_HOST syntax (what docker, dockerode and podman accept).

import { fail, ok, show, type Parsed } from './parsed.ts';

const EXPECTED = 'a DOCKER_HOST-style address like "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375"';

export function parseEngineHost(value: unknown): Parsed<string> {
  if (typeof value !== 'string') return fail(`expected ${EXPECTED}, got ${show(value)}`);
  const text = value.trim();
  if (/^unix:\/\/\/.+$/.test(text) || /^tcp:\/\/[^/\s]+/.test(text)) return ok(text);
  const scheme = /^(npipe|ssh|http|https):\/\//.exec(text);
  if (scheme !== null) return fail(`${show(value)}: ${scheme[1]}:// engines are not supported; use unix:///path/to/docker.sock or tcp://host:port (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH for TLS)`);
  const path = /^(?:unix:)?\/+([^/].*)$/.exec(text);
  if (path !== null) return fail(`expected ${EXPECTED}, got ${show(value)}; did you mean "unix:///${path[1]}"?`);
  return fail(`expected ${EXPECTED}, got ${show(value)}`);
}
