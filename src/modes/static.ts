// placeholder replaced by the static mode implementation
import type { ModeDeps, ModeRunner } from './mode.js';
export function createStaticMode(_deps: ModeDeps): ModeRunner {
  throw new Error('mode static is being built');
}
