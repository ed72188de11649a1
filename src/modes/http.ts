// placeholder replaced by the http mode implementation
import type { ModeDeps, ModeRunner } from './mode.js';
export function createHttpMode(_deps: ModeDeps): ModeRunner {
  throw new Error('mode http is being built');
}
