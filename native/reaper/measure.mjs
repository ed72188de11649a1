// Measures the reaper addon: load time, and the cost of one scan with 0 and 50 live children.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const file = fileURLToPath(new URL('./build/Release/reaper.node', import.meta.url));
let t = performance.now();
const mod = { exports: {} };
process.dlopen(mod, file);
const loadMs = performance.now() - t;
const addon = mod.exports;

function scanCostUs(n = 20_000) {
  t = performance.now();
  for (let i = 0; i < n; i++) addon.zombieChildren();
  return ((performance.now() - t) * 1000) / n;
}
const idle = scanCostUs();
const kids = Array.from({ length: 50 }, () => spawn('sleep', ['5'], { stdio: 'ignore' }));
await new Promise((r) => setTimeout(r, 200));
const busy = scanCostUs(5_000);
for (const k of kids) k.kill('SIGKILL');
console.log(
  JSON.stringify({
    node: process.version,
    loadMs: +loadMs.toFixed(2),
    scanUsNoChildren: +idle.toFixed(1),
    scanUs50Children: +busy.toFixed(1),
  }),
);
