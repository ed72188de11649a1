// Go's ServeMux path cleaning: unclean paths get a 301 to the cleaned one.

/** path.Clean for URL paths, keeping a trailing slash as Go's mux does. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  const parts: string[] = [];
  for (const seg of rooted.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
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

/** True when `path` (no query) needs Go's 301: it holds `//`, `/./`, `/../` or ends in `/.` or `/..`. */
export function isUncleanPath(path: string): boolean {
  if (path.indexOf('/.') === -1 && path.indexOf('//') === -1) return false;
  return cleanPath(path) !== path;
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** Turns an absolute-form request target (`http://host/p?q`, as sent to proxies) into `/p?q`; anything else is returned as is. */
export function originForm(target: string): string {
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return target;
  const rest = target.slice(m[0].length);
  return rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
}
