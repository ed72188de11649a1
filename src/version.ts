// The version, stamped in by the build (esbuild define); `dev` when run from source.
declare const __FWATCHDOG_VERSION__: string | undefined;
declare const __FWATCHDOG_SHA__: string | undefined;

export const VERSION = typeof __FWATCHDOG_VERSION__ === 'string' ? __FWATCHDOG_VERSION__ : 'dev';
export const GIT_SHA = typeof __FWATCHDOG_SHA__ === 'string' ? __FWATCHDOG_SHA__ : 'unknown';

/** The image platform's name for a Node architecture (process.arch): x64 is amd64 there, arm64 stays arm64. */
export function platformArch(nodeArch: string): string {
  return nodeArch === 'x64' ? 'amd64' : nodeArch;
}

/** What --version prints: the originals' `Version: X\tSHA: Y`, then the platform the binary is built for. */
export function versionLine(nodeArch: string): string {
  return `Version: ${VERSION}\tSHA: ${GIT_SHA}\tArch: linux/${platformArch(nodeArch)}\n`;
}
