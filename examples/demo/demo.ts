// `npm run demo`: portwake really activating a container. Finds a Docker engine (DOCKER_HOST, the
// system's /var/run/docker.sock, or the private one of tools/local-engine), builds an nginx image
// offline (portwake-demo/nginx), creates a stopped container (portwake-demo-…), runs portwake in
// front of it and shows the cold start and the idle stop. Ctrl-C cleans up. `--once` (or no
// terminal) runs one full cycle and exits.

import http from 'node:http';
import net from 'node:net';
import { colourWanted } from '../../src/log/colour.ts';
import { parseConfig } from '../../src/config/load.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/log/log.ts';
import { createContainer } from '../../tools/local-engine/containers.ts';
import { getEngine, type Owner } from '../../tools/local-engine/engine.ts';
import { ensureImage } from '../../tools/local-engine/images.ts';

/** The demo's container, its label and its image say whose they are. */
const DEMO: Owner = { containerPrefix: 'portwake-demo', label: 'portwake-demo', imageRepo: 'portwake-demo' };

const IDLE = '8s';
const once = process.argv.includes('--once') || !process.stdout.isTTY;
// Bold only on a terminal without NO_COLOR: `npm run demo > file` holds no escape sequences.
const bold = colourWanted(process.stdout.isTTY, process.env);
const say = (text: string): void => { process.stdout.write(bold ? `\n\x1b[1m▶ ${text}\x1b[0m\n` : `\n▶ ${text}\n`); };

async function pingSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: path, path: '/_ping', timeout: 1_000 }, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

async function freePort(preferred: number): Promise<number> {
  for (const port of [preferred, 0]) {
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => { s.once('error', () => r(false)); s.listen(port, '127.0.0.1', () => r(true)); });
    if (ok) {
      const p = (s.address() as net.AddressInfo).port;
      await new Promise((r) => s.close(r));
      return p;
    }
  }
  throw new Error('no free port on 127.0.0.1');
}

function get(port: number): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, body }));
    }).on('error', reject);
  });
}

async function main(): Promise<void> {
  if ((process.env['DOCKER_HOST'] ?? '') === '' && (await pingSocket('/var/run/docker.sock'))) process.env['DOCKER_HOST'] = 'unix:///var/run/docker.sock';
  say('Finding a Docker engine (DOCKER_HOST, /var/run/docker.sock, or a private dockerd started as root)…');
  const engine = await getEngine();
  console.log(`  engine: ${engine.dockerHost}`);
  say('Building the nginx image offline from the host\'s nginx binary (cached after the first run)…');
  const image = await ensureImage(engine, 'nginx', DEMO);
  const container = await createContainer(engine, { image, expose: [80] }, DEMO);
  console.log(`  created (not started) container ${container.name} from ${image}`);

  const port = await freePort(8080);
  const yaml = `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${container.name}\n    idleTimeout: ${IDLE}\n    stopTimeout: 2s\n`;
  say(`Starting portwake with this config:\n${yaml}`);
  const daemon = await Daemon.start({
    config: parseConfig(yaml, 'demo.yaml'),
    configPath: undefined,
    logger: createLogger({ level: 'info', pretty: true, fd: 1 }),
    env: { DOCKER_HOST: engine.dockerHost },
    stopOnExit: true,
    graceMs: 1_000,
    exitIdleMs: undefined,
  });
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      say('Cleaning up: stopping portwake and removing the demo container…');
      await daemon.shutdown('demo end');
      await container.remove();
    })();
    return cleaning;
  };
  process.once('SIGINT', () => { void cleanup().then(() => process.exit(0)); });

  const stopped = new Promise<void>((resolve) => daemon.subscribe((e) => { if (e.type === 'state' && e.to === 'stopped' && e.from === 'stopping') resolve(); }));
  say(`The container is stopped. First request: curl http://127.0.0.1:${port}/`);
  const first = await get(port);
  console.log(`  → HTTP ${first.status} in ${first.ms.toFixed(0)} ms, including the container's cold start (${first.body.length} bytes of nginx's page)`);
  const warm = await get(port);
  console.log(`  → second request: HTTP ${warm.status} in ${warm.ms.toFixed(1)} ms, straight through`);
  say(`Now idle: portwake stops the container after ${IDLE} without connections…`);
  if (!once) console.log(`  (meanwhile, try it yourself: curl http://127.0.0.1:${port}/ — each request re-arms the idle timer)`);
  await stopped;
  say('The container is stopped again; the next connection starts it again:');
  const again = await get(port);
  console.log(`  → HTTP ${again.status} in ${again.ms.toFixed(0)} ms`);
  if (once) {
    await cleanup();
    return;
  }
  say(`Still running on http://127.0.0.1:${port}/ — press Ctrl-C to stop portwake and remove the demo container.`);
  await daemon.done;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
