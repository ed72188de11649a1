// Formats byte counts like docker/go-units HumanSize, as the originals' access lines do.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** 0 -> "0B", 1554 -> "1.554kB", -1 -> "-1B" (unknown length). */
export function humanSize(bytes: number): string {
  if (bytes < 0) return `${bytes}B`;
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(4))}${UNITS[i]}`;
}
