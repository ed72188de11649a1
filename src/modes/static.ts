// Static mode: serves static_path like Go's http.FileServer (index, 301s, listing), files via `send`.
import { promises as fsp, realpathSync, statSync, type Dirent } from 'node:fs';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { basename, join, sep } from 'node:path';
import type send from 'send';
import type { FunctionCall, ModeDeps, ModeRunner } from './mode.js';
import { escapeHtml } from '../escape-html.js';

const NOT_FOUND_BODY = Buffer.from('404 page not found\n');
const TEXT_HEADERS = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };
const LISTING_HEAD = '<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n';
const INDEX = 'index.html';

/** Go's http.Error: a status line text and nosniff. */
function sendText(
  res: ServerResponse,
  status: number,
  body: Buffer | string = `${status} ${STATUS_CODES[status] ?? ''}\n`,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...TEXT_HEADERS, 'Content-Length': buf.length });
  res.end(buf);
}

/**
 * Go's localRedirect: a relative Location, the query kept, no body. `location` is a decoded relative
 * path; it is percent-encoded (escapeHref), so a name with `?`, `#`, `%` or non-ASCII letters is a
 * valid header value that leads back to the same name.
 */
function redirect(res: ServerResponse, location: string, query: string): void {
  res.writeHead(301, { Location: escapeHref(location) + query, 'Content-Length': '0' });
  res.end();
}

/** Escapes a file name for an href the way Go's url.URL{Path: name}.String() does. */
export function escapeHref(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // A colon in the first segment would read as a scheme: Go prefixes "./".
  const slash = out.indexOf('/');
  const colon = out.indexOf(':');
  return colon !== -1 && (slash === -1 || colon < slash) ? `./${out}` : out;
}

/** The body of Go's dirList (Go >= 1.22): entries sorted by name, folders suffixed with "/". */
export function directoryListing(entries: Dirent[]): string {
  const names = entries
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let body = LISTING_HEAD;
  for (const name of names) body += `<a href="${escapeHref(name)}">${escapeHtml(name)}</a>\n`;
  return `${body}</pre>\n`;
}

/** Encodes a path relative to the root for `send`, which decodes what it is given. */
function encodeRelative(relative: string): string {
  return relative.split(sep).map(encodeURIComponent).join('/');
}

function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The static mode: checks static_path at start(), then serves it. */
export function createStaticMode(deps: ModeDeps): ModeRunner {
  const { config, logger } = deps;
  let root = '';
  const sendOptions: send.SendOptions = {
    index: false,
    dotfiles: 'allow',
    cacheControl: false,
    etag: true,
    lastModified: true,
    acceptRanges: true,
  };
  // `send` (with mime-db: a chunk of the binary, about 8 MB resident) is loaded by the first file served, not at start.
  let sendFn: typeof send | undefined;
  let loadingSend: Promise<typeof send> | undefined;
  const loadSend = (): Promise<typeof send> => (loadingSend ??= import('send').then((m) => (sendFn = m.default)));

  /** Resolves symlinks; undefined when missing or outside the root (both answer 404: no escape, no hint). */
  async function inside(path: string): Promise<{ real: string } | { status: number }> {
    let real: string;
    try {
      real = await fsp.realpath(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { status: code === 'EACCES' || code === 'EPERM' ? 403 : 404 };
    }
    if (!isWithin(root, real)) {
      logger.debug('static: refused a path that resolves outside static_path', { path });
      return { status: 404 };
    }
    return { real };
  }

  async function serveFile(call: FunctionCall, real: string): Promise<void> {
    const { req, res } = call;
    const stream = (sendFn ?? (await loadSend()))(req, encodeRelative(real.slice(root.length)) || '/', {
      ...sendOptions,
      root,
    });
    stream.on('error', (err: { status?: number; headers?: Record<string, string> }) => {
      const status = err.status ?? 500;
      if (err.headers && !res.headersSent) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      sendText(res, status, status === 404 ? NOT_FOUND_BODY : undefined);
    });
    stream.on('stream', (file: NodeJS.ReadableStream) => {
      file.on('data', (chunk: Buffer) => {
        call.bytesOut += chunk.length;
      });
    });
    stream.pipe(res);
  }

  async function serveListing(call: FunctionCall, dir: string): Promise<void> {
    const { req, res } = call;
    const [entries, info] = await Promise.all([fsp.readdir(dir, { withFileTypes: true }), fsp.stat(dir)]);
    const mtime = new Date(Math.floor(info.mtimeMs / 1000) * 1000);
    const since = req.headers['if-modified-since'];
    if (since !== undefined && req.headers['if-none-match'] === undefined) {
      const t = Date.parse(since);
      if (!Number.isNaN(t) && mtime.getTime() <= t) {
        res.writeHead(304, { 'Last-Modified': mtime.toUTCString() }).end();
        return;
      }
    }
    const body = Buffer.from(directoryListing(entries));
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Last-Modified': mtime.toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    call.bytesOut += body.length;
    res.end(body);
  }

  async function serve(call: FunctionCall): Promise<void> {
    const { res } = call;
    const url = call.target;
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q);
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      // Malformed percent-encoding cannot name a file.
      sendText(res, 400);
      return;
    }
    if (!path.startsWith('/') || path.includes('\0')) {
      sendText(res, 400);
      return;
    }
    if (path.endsWith(`/${INDEX}`)) {
      redirect(res, './', query);
      return;
    }
    // Lexical check first (`..`, `%2e%2e`), then the real path (symlinks).
    const joined = join(root, path);
    if (!isWithin(root, joined)) {
      sendText(res, 404, NOT_FOUND_BODY);
      return;
    }
    // realpath fails on "file/": look the name up without the slash, the redirect below handles it.
    const found = await inside(joined.length > 1 && joined.endsWith(sep) ? joined.slice(0, -1) : joined);
    if ('status' in found) {
      sendText(res, found.status, found.status === 404 ? NOT_FOUND_BODY : undefined);
      return;
    }
    const info = await fsp.stat(found.real);
    const trailingSlash = path.endsWith('/');
    if (info.isDirectory()) {
      if (!trailingSlash) {
        redirect(res, `${basename(path)}/`, query);
        return;
      }
      const index = await inside(join(found.real, INDEX));
      if ('real' in index) {
        const indexInfo = await fsp.stat(index.real);
        if (indexInfo.isFile()) {
          await serveFile(call, index.real);
          return;
        }
      }
      await serveListing(call, found.real);
      return;
    }
    if (trailingSlash) {
      redirect(res, `../${basename(path)}`, query);
      return;
    }
    await serveFile(call, found.real);
  }

  return {
    async start() {
      const path = config.staticPath;
      let ok = false;
      try {
        ok = statSync(path).isDirectory();
      } catch (err) {
        throw new Error(
          `static_path=${JSON.stringify(path)} cannot be served: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; set static_path to an existing folder`,
        );
      }
      if (!ok)
        throw new Error(`static_path=${JSON.stringify(path)} is not a folder; set static_path to an existing folder`);
      root = realpathSync(path);
      logger.info(`Serving files at: ${path}`);
    },
    isReady: () => root !== '',
    waitReady: () => Promise.resolve(root !== ''),
    handle(call) {
      serve(call).catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') sendText(call.res, 404, NOT_FOUND_BODY);
        else if (code === 'EACCES' || code === 'EPERM') sendText(call.res, 403);
        else {
          logger.error('static: cannot serve a file', { url: call.target, err: String(err) });
          sendText(call.res, 500);
        }
      });
    },
    stop: () => Promise.resolve(),
  };
}
