// Frees the chunks of long streams as they go. Every chunk read from a socket or a pipe is a new
// Buffer (up to 64 KiB) outside V8's heap, and V8 collects the dead ones only when its own heap asks
// for it or their total nears its external-memory limit: a 256 MiB POST through streaming mode held
// about 40 MB of dead chunks at its peak. A young-generation collection every few MiB moved keeps
// that bounded and independent of the body's size, for well under a millisecond each.

/** Told how many bytes a stream moved; collects once enough have passed. */
export interface StreamReclaim {
  moved(bytes: number): void;
}

/** Bytes moved (both directions counted) between two collections. */
export const RECLAIM_EVERY_BYTES = 2 << 20;

/** Calls `collect` each time another `everyBytes` have been moved, across all streams. */
export function createStreamReclaim(collect: () => void, everyBytes = RECLAIM_EVERY_BYTES): StreamReclaim {
  let sinceLast = 0;
  return {
    moved(bytes) {
      sinceLast += bytes;
      if (sinceLast < everyBytes) return;
      sinceLast = 0;
      collect();
    },
  };
}
