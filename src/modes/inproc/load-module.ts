// inproc: loads the function module once (ESM, CommonJS or TypeScript) and finds its handler and hooks.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';

/** A node:http request listener, as the function exports it. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;
/** A fetch-style handler: a Request in, a Response (or a promise of one) out. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** What the watchdog calls in the loaded module. */
export type FunctionModule = {
  /** The handler and how to call it. */
  handler: { kind: 'listener'; listener: RequestListener } | { kind: 'fetch'; fetch: FetchHandler };
  /** Resolves (or returns) once the function can serve. */
  ready: (() => unknown) | undefined;
  /** Runs after the drain at SIGTERM. */
  shutdown: (() => unknown) | undefined;
  /** Takes over an HTTP Upgrade request (WebSocket), as node:http's 'upgrade' event: (req, socket, head). */
  upgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer) => unknown) | undefined;
};

type Exports = Record<string, unknown>;

const isFunction = (v: unknown): v is (...args: unknown[]) => unknown => typeof v === 'function';
const isObject = (v: unknown): v is Exports => typeof v === 'object' && v !== null;

/** Imports `file` (an absolute path) and picks its handler; rejects with a message that gives the cause. */
export async function loadFunctionModule(file: string): Promise<FunctionModule> {
  let ns: Exports;
  try {
    // import() loads ESM and CommonJS alike (and .ts/.mts/.cts where Node strips types); a CommonJS module's
    // module.exports is its default export.
    ns = (await import(pathToFileURL(file).href)) as Exports;
  } catch (err) {
    throw new Error(`cannot load ${file}: ${describeLoadError(err)}`, { cause: err });
  }
  return pickExports(file, ns);
}

/** Picks the handler and hooks from a module namespace (exported for tests of the rules). */
export function pickExports(file: string, ns: Exports): FunctionModule {
  let main = ns.default;
  // A CommonJS module compiled from ESM (exports.default with __esModule): its default is one level down.
  if (isObject(main) && main.__esModule === true && main.default !== undefined) main = main.default;
  const bound = (owner: unknown, name: string): (() => unknown) | undefined => {
    if (!isObject(owner) && !isFunction(owner)) return undefined;
    const fn = (owner as Exports)[name];
    return isFunction(fn) ? fn.bind(owner) : undefined;
  };
  let handler: FunctionModule['handler'] | undefined;
  if (isFunction(main)) handler = { kind: 'listener', listener: main as RequestListener };
  else if (bound(main, 'fetch') !== undefined)
    handler = { kind: 'fetch', fetch: bound(main, 'fetch') as unknown as FetchHandler };
  else if (isFunction(ns.fetch)) handler = { kind: 'fetch', fetch: ns.fetch as FetchHandler };
  if (handler === undefined) {
    const names = Object.keys(ns).filter((n) => n !== '__esModule' && n !== 'module.exports');
    const found =
      names.length === 0
        ? 'it exports nothing'
        : `its exports are ${names.join(', ')}${'default' in ns ? ` (default is ${describe(ns.default)})` : ''}`;
    throw new Error(
      `${file} has no handler: export default a node:http request listener (req, res) => {...}, or a fetch(request) function that returns a Response; ${found}`,
    );
  }
  // Hooks: named exports first, else methods of the default export (export default { fetch, ready, shutdown }; module.exports.ready).
  const hook = (name: string): ((...args: never[]) => unknown) | undefined =>
    isFunction(ns[name]) ? (ns[name] as () => unknown) : bound(main, name);
  return {
    handler,
    ready: hook('ready'),
    shutdown: hook('shutdown'),
    upgrade: hook('upgrade') as FunctionModule['upgrade'],
  };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (isObject(v)) {
    const keys = Object.keys(v);
    return keys.length === 0 ? 'an empty object' : `an object with ${keys.slice(0, 8).join(', ')}`;
  }
  return `a ${typeof v}`;
}

/** The first useful line of a load error: its name and message, and where for a syntax error. */
function describeLoadError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const text = `${err.name}: ${err.message}${code !== undefined && !err.message.includes(code) ? ` (${code})` : ''}`;
  // A SyntaxError from V8 names the place only in its stack's first line (file:line).
  const where =
    err.name === 'SyntaxError' && err.stack !== undefined ? /^(file:\/\/\S+|\/\S+):(\d+)/m.exec(err.stack) : null;
  return where !== null ? `${text} at ${where[1]}:${where[2]}` : text;
}
