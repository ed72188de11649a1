// The few private parts of Node and of prom-client the watchdog relies on, each for want of a public API.
// Checked against Node 20.20 and 22.23 (the binary's), prom-client 15.1; test/unit/internals.test.ts
// fails when an upgrade changes one of them, so `npm update` or a new Node cannot break them silently.
// (The one other, undici's Pool by its module path and the build's patches to undici, is build-time:
// src/modes/http/proxy-call.ts and scripts/bundle-options.mjs; the same test file covers it.)
import { Server as NetServer } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';

/**
 * The file descriptor behind a stream given as a stdio entry (a net.Socket, e.g. one end of a socket
 * pair), as child_process reads it for the same purpose: `stream._handle.fd`. Node has no public getter.
 * undefined when the stream has none (not a handle-backed stream, or already closed).
 */
export function streamFd(stream: unknown): number | undefined {
  const fd = (stream as { _handle?: { fd?: unknown } } | null)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Stops `server` listening and nothing else: net.Server's close() on the http.Server. http.Server.close()
 * would also close every idle keep-alive connection at once (Node 19+) and stop the check that enforces
 * headersTimeout and requestTimeout on the connections left, which the drain keeps to the end.
 */
export function stopListening(server: Server): void {
  NetServer.prototype.close.call(server);
}

/**
 * The answer Node is writing on `socket` now (`socket._httpMessage`: the oldest unfinished one of the
 * connection, including those Node makes itself, such as its 400 for a request without Host), if any.
 */
export function currentAnswer(socket: Duplex): ServerResponse | undefined {
  return (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * True while Node holds `res` back behind the answers before it on its connection (a pipelined request):
 * such an answer has no socket yet (`res.socket` is null).
 */
export function heldBack(res: ServerResponse): boolean {
  return res.socket === null;
}

/** Calls `start` when the turn of `res`, held back (heldBack), comes: ServerResponse emits 'socket' then (never, if the connection ends first). */
export function onTurn(res: ServerResponse, start: () => void): void {
  res.once('socket', start);
}

/** What prom-client's Registry reads of a metric at scrape time (its Metric type is only its own classes). */
export interface CustomMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  readonly aggregator: string;
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
  }>;
  reset(): void;
}

/** Registers a metric that is not a prom-client class but answers get() as one does (request-series.ts's histogram). */
export function registerCustomMetric(registry: Registry, metric: CustomMetric): void {
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}

/**
 * Rewrites the header block node:http has built for `res` and not yet sent (`res._header`, set by writeHead,
 * written with the first body bytes): `edit` gets it and returns the block to send. Node has no public way to
 * leave out the `Connection: keep-alive` / `Keep-Alive` lines it adds (src/server/response.ts).
 */
export function editHeaderBlock(res: ServerResponse, edit: (head: string) => string): void {
  const self = res as unknown as { _header: string | null };
  if (typeof self._header === 'string') self._header = edit(self._header);
}
