// The version, stamped in by the build (esbuild define); `dev` when run from source.
declare const __FWATCHDOG_VERSION__: string | undefined;
declare const __FWATCHDOG_SHA__: string | undefined;

export const VERSION = typeof __FWATCHDOG_VERSION__ === 'string' ? __FWATCHDOG_VERSION__ : 'dev';
export const GIT_SHA = typeof __FWATCHDOG_SHA__ === 'string' ? __FWATCHDOG_SHA__ : 'unknown';
