// placeholder replaced by the classic mode implementation
import type { ModeDeps, ModeRunner } from './mode.js';
export function createClassicMode(_deps: ModeDeps): ModeRunner {
  throw new Error('mode classic is being built');
}
