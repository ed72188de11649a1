// How one environment value becomes a typed value: each parser says what it allows and how to print it.
import { splitCommandLine } from './argv.js';
import { MAX_TIMER_MS, formatDuration, parseDurationMs } from './duration.js';

/** A value a parser refused, with the whole message (it names the variable and the value). */
export class Invalid {
  constructor(readonly message: string) {}
}

export interface Parser<T> {
  /** What a value may be, as --help and docs/configuration.md say it. */
  readonly allowed: string;
  /** True for booleans: of a name and its aliases, any one set to true turns it on (the originals' getBools). */
  readonly anyTrue?: boolean;
  /** `name` is the spelling the user set (the name or an alias). */
  parse(value: string, name: string): T | Invalid;
  /** The value as --print-config and the docs show it. */
  print(value: T): unknown;
}

const BOOL_TRUE = new Set(['true', '1', 'yes', 'on']);
const BOOL_FALSE = new Set(['false', '0', 'no', 'off']);

export function show(value: string): string {
  return JSON.stringify(value);
}

export const duration: Parser<number> = {
  allowed: 'whole seconds (30) or a Go duration (1m30s, 1.5s, 500ms)',
  parse(value, name) {
    const ms = parseDurationMs(value);
    // Node fires a longer timer after 1 ms: a timeout that long would end every call at once.
    if (ms !== undefined && ms > MAX_TIMER_MS)
      return new Invalid(
        `${name}=${show(value)} is longer than ${formatDuration(MAX_TIMER_MS)}, the longest a timer can wait: use a shorter duration`,
      );
    if (ms !== undefined) return ms;
    const hint = /^["'].*["']$/.test(value) ? ' (remove the quotes)' : '';
    return new Invalid(
      `${name}=${show(value)} is not a duration${hint}: use whole seconds (30) or a Go duration such as 1m30s, 1.5s, 500ms; negative values are not allowed`,
    );
  },
  print: formatDuration,
};

export const bool: Parser<boolean> = {
  allowed: 'true/false, 1/0, yes/no, on/off',
  anyTrue: true,
  parse(value, name) {
    const lower = value.toLowerCase();
    if (BOOL_TRUE.has(lower)) return true;
    if (BOOL_FALSE.has(lower)) return false;
    return new Invalid(`${name}=${show(value)} is not a boolean: use true/false, 1/0, yes/no or on/off`);
  },
  print: (v) => v,
};

/** A whole number in [min, max]; `what` names it in the problem ("a TCP port"). */
export function int(what: string, min: number, max?: number): Parser<number> {
  const range = max === undefined ? `>= ${min}` : `${min}..${max}`;
  return {
    allowed: `a whole number ${range}`,
    parse(value, name) {
      const n = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
      if (Number.isSafeInteger(n) && n >= min && (max === undefined || n <= max)) return n;
      return new Invalid(`${name}=${show(value)} is not valid: ${what} must be a whole number ${range}`);
    },
    print: (v) => v,
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return {
    allowed: values.join(', '),
    parse(value, name) {
      if ((values as readonly string[]).includes(value)) return value as T;
      return new Invalid(`${name}=${show(value)} is not allowed: use one of ${values.join(', ')}`);
    },
    print: (v) => v,
  };
}

/** A number from 0 to 1 (a sampling ratio). */
export const ratio: Parser<number> = {
  allowed: 'a number from 0 to 1',
  parse(value, name) {
    const n = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : NaN;
    if (n >= 0 && n <= 1) return n;
    return new Invalid(`${name}=${show(value)} is not valid: a sampling ratio is a number from 0 to 1`);
  },
  print: (v) => String(v),
};

export const text: Parser<string> = { allowed: 'any text', parse: (v) => v, print: (v) => v };

/** A header name, compared in lower case. */
export const headerName: Parser<string> = { allowed: 'a header name', parse: (v) => v.toLowerCase(), print: (v) => v };

/** A folder; a trailing slash is dropped. */
export const folder: Parser<string> = { allowed: 'a folder path', parse: stripTrailingSlash, print: (v) => v };

/** A URL path such as /ready. */
export const urlPath: Parser<string> = {
  allowed: 'a path starting with /',
  parse: (value, name) =>
    value.startsWith('/') ? value : new Invalid(`${name}=${show(value)} must start with "/", e.g. /ready`),
  print: (v) => v,
};

/** The function's command line: split like shell words, never run through a shell. */
export const commandLine: Parser<string> = {
  allowed: 'a command line (shell words)',
  parse(value, name) {
    const split = splitCommandLine(value);
    if (!split.ok) return new Invalid(`${name}=${show(value)} cannot be split into words: ${split.reason}`);
    if (split.argv.length === 0)
      return new Invalid(`${name} is blank: give the function's command, e.g. fprocess="node index.js"`);
    return value;
  },
  print: (v) => v,
};

/** The name of a file directly inside secret_mount_path. */
export const secretName: Parser<string> = {
  allowed: 'a file name inside secret_mount_path',
  parse: (value) => (isFileName(value) ? value : new Invalid(secretProblem(value))),
  print: (v) => v,
};

/** Comma-separated secret names. */
export const secretNames: Parser<string[]> = {
  allowed: 'comma-separated file names inside secret_mount_path',
  parse(value) {
    const names = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = names.find((n) => !isFileName(n));
    return bad === undefined ? names : new Invalid(secretProblem(bad));
  },
  print: (v) => v,
};

/** log_buffer_size: bytes, or a negative number for no limit (Infinity); 0 is refused. */
export const lineLimit: Parser<number> = {
  allowed: 'a size in bytes, or a negative number for no limit',
  parse(value, name) {
    const n = int('a size in bytes', -Number.MAX_SAFE_INTEGER).parse(value, name);
    if (n instanceof Invalid) return n;
    if (n === 0)
      return new Invalid(
        `${name}="0" is not valid: use a size in bytes (default 65536), or a negative number for no limit`,
      );
    return n < 0 ? Infinity : n;
  },
  print: (v) => (Number.isFinite(v) ? v : -1),
};

/** upstream_url: http://host:port, nothing else. */
/** An OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_*ENDPOINT): an http:// or https:// URL. */
export const otlpUrl: Parser<URL | undefined> = {
  allowed: 'http(s)://host:port[/path]',
  parse(value, name) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // URL throws on anything unparsable; the problem says what to write instead.
      return new Invalid(
        `${name}=${show(value)} is not a URL: write it as http://host:4318, e.g. http://otel-collector:4318`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return new Invalid(
        `${name}=${show(value)} must use http:// or https:// (OTLP/HTTP; got ${url.protocol}), e.g. http://otel-collector:4318`,
      );
    if (url.hostname === '') return new Invalid(`${name}=${show(value)} has no host, e.g. http://otel-collector:4318`);
    return url;
  },
  print: (v) => (v === undefined ? '' : v.href),
};

export const upstreamUrl: Parser<URL | undefined> = {
  allowed: 'http://host:port',
  parse(value, name) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // URL throws on anything unparsable; the problem says what to write instead.
      return new Invalid(
        `${name}=${show(value)} is not a URL: write it as http://host:port, e.g. http://127.0.0.1:5000`,
      );
    }
    if (url.protocol !== 'http:')
      return new Invalid(`${name}=${show(value)} must use http:// (got ${url.protocol}), e.g. http://127.0.0.1:5000`);
    if (url.hostname === '') return new Invalid(`${name}=${show(value)} has no host, e.g. http://127.0.0.1:5000`);
    if (url.search !== '' || url.hash !== '')
      return new Invalid(`${name}=${show(value)} must not carry a query or fragment`);
    return url;
  },
  print: (v) => v?.href,
};

function isFileName(s: string): boolean {
  return !s.includes('/') && s !== '.' && s !== '..';
}

function secretProblem(name: string): string {
  return `secret name ${show(name)} is not a file name: secrets are files directly inside secret_mount_path`;
}

function stripTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}
