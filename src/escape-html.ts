// Go's htmlReplacer, for the few HTML bodies the watchdog writes (redirects, static folder listings).

/** Escapes & < > " ' as Go's net/http does. */
export function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&#34;')
    .replaceAll("'", '&#39;');
}
