// The mode registry: the module that implements each row of MODE_TABLE (src/config/variables.ts), loaded lazily.
import type { Mode } from '../config/variables.js';
import type { ModeFactory } from './mode.js';

/** One loader per mode: a row added to MODE_TABLE without its loader here fails the typecheck. */
const LOADERS: { readonly [M in Mode]: () => Promise<ModeFactory> } = {
  streaming: async () => (await import('./streaming.js')).createStreamingMode,
  serializing: async () => (await import('./serializing.js')).createSerializingMode,
  http: async () => (await import('./http.js')).createHttpMode,
  static: async () => (await import('./static.js')).createStaticMode,
  classic: async () => (await import('./classic.js')).createClassicMode,
  inproc: async () => (await import('./inproc.js')).createInprocMode,
};

/** The chosen mode's factory; start-up only pays for that one mode's code. */
export function loadMode(name: Mode): Promise<ModeFactory> {
  return LOADERS[name]();
}
