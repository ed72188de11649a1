// Go's ServeMux path cleaning: unclean paths get a 301 to the cleaned one; encoded dot segments
// (`%2e%2e`, `.%2E`) count as dot segments, as in the WHATWG URL standard (docs/security.md).

/** 1 for a `.` segment, 2 for a `..` segment, percent-encoded dots included (`%2e`, `.%2E`, `%2e%2e`); else 0. */
function dotSegment(seg: string): 0 | 1 | 2 {
  if (seg === '.') return 1;
  if (seg === '..') return 2;
  if (seg.length < 3 || seg.length > 6) return 0;
  const lower = seg.toLowerCase();
  if (lower === '%2e') return 1;
  return lower === '.%2e' || lower === '%2e.' || lower === '%2e%2e' ? 2 : 0;
}

/** path.Clean for URL paths, keeping a trailing slash as Go's mux does; `%2e` is a dot here. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  const parts: string[] = [];
  for (const seg of rooted.split('/')) {
    if (seg === '') continue;
    const dots = dotSegment(seg);
    if (dots === 1) continue;
    if (dots === 2) parts.pop();
    else parts.push(seg);
  }
  let out = `/${parts.join('/')}`;
  if (rooted.endsWith('/') && out !== '/') out += '/';
  return out;
}

/**
 * The Location of the clean-path redirect: the cleaned path with every backslash percent-encoded.
 * Browsers read `\` as `/`, so `/\evil.example` would be followed as `//evil.example`, another host;
 * the result never starts with `//` or `/\`.
 */
export function redirectTarget(path: string): string {
  return cleanPath(path).replaceAll('\\', '%5C');
}

/**
 * True when `path` (no query) needs Go's 301: it holds `//`, `/./`, `/../` or ends in `/.` or `/..`,
 * with any of those dots written as `%2e` or `%2E`.
 */
export function isUncleanPath(path: string): boolean {
  if (path.indexOf('/.') === -1 && path.indexOf('//') === -1 && path.indexOf('%2') === -1) return false;
  return cleanPath(path) !== path;
}

const ENCODED_SLASH = /%2f/i;
const ENCODED_NUL = /%00/;

/** True when `path` holds `%00`: decoded, it would cut PATH_INFO and Http_Path short (`/secret.txt%00.png`). */
export function hasEncodedNul(path: string): boolean {
  return ENCODED_NUL.test(path);
}
const ENCODED_DOT = /%2e/gi;
const ENCODED_SLASHES = /%2f/gi;

/**
 * True when `path` (clean by isUncleanPath) has a `.` or `..` segment once `%2F` is read as `/`
 * (`/a%2f..%2fb`, `/%2e%2e%2f`): what the function would see in PATH_INFO and Http_Path. Such a
 * path has no clean form that keeps its encoded slashes, so it gets a 400 rather than a redirect.
 */
export function hasEncodedSlashDotSegment(path: string): boolean {
  if (!ENCODED_SLASH.test(path)) return false;
  const decoded = path.replace(ENCODED_DOT, '.').replace(ENCODED_SLASHES, '/');
  for (const seg of decoded.split('/')) if (seg === '.' || seg === '..') return true;
  return false;
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** The target a request routes by: its origin-form path and query (absolute-form turned into it, as in Go); `*` as is. */
export function requestTarget(url: string | undefined): string {
  if (url === undefined) return '/';
  return url.charCodeAt(0) !== 47 && url !== '*' ? originForm(url) : url;
}

/** Turns an absolute-form request target (`http://host/p?q`, as sent to proxies) into `/p?q`; anything else is returned as is. */
export function originForm(target: string): string {
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return target;
  const rest = target.slice(m[0].length);
  return rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
}
