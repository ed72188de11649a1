// placeholder replaced by the serializing mode implementation
import type { ModeDeps, ModeRunner } from './mode.js';
export function createSerializingMode(_deps: ModeDeps): ModeRunner {
  throw new Error('mode serializing is being built');
}
