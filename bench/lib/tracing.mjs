// --tracing: a local OTLP/HTTP receiver (bench/servers/otlp-receiver.mjs) and the env that makes a watchdog export to it.
import { join } from 'node:path';
import process from 'node:process';
import { ROOT, freePort, startProcess, waitFor200 } from './processes.mjs';

/** Starts the receiver; `env` is what a watchdog needs to export its spans there. */
export async function startReceiver() {
  const port = await freePort();
  const proc = startProcess(
    'otlp receiver',
    process.execPath,
    [join(ROOT, 'bench', 'servers', 'otlp-receiver.mjs'), String(port)],
    {},
  );
  await waitFor200(proc, port, '/');
  proc.port = port;
  proc.env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'bench' };
  return proc;
}

/** Spans the receiver has taken so far. */
export async function spansReceived(receiver) {
  const res = await globalThis.fetch(`http://127.0.0.1:${receiver.port}/count`);
  return Number(await res.text());
}
