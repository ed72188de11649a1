// The tags of the images one run of the suite builds: under a namespace of its own (made by global-setup.ts),
// so two runs on one machine (two checkouts, or CI beside a developer) never build over each other's tags.
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    imageNamespace: string;
  }
}

/** localhost/fwatchdog-test-<run>/NAME:TAG */
export function runImage(name: string, tag = 'latest'): string {
  return `${inject('imageNamespace')}/${name}:${tag}`;
}

/** The watchdog image this run built from dist/. */
export function watchdogImage(): string {
  return runImage('watchdog');
}
