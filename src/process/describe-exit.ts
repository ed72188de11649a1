// How a function process ended, in the Go originals' words.
import type { ProcessOutcome } from './function-process.js';

/** The Go-style text for how a process ended: `exit status 2`, `signal: killed`. */
export function describeExit(o: ProcessOutcome): string {
  if (o.startError) return `fork/exec failed: ${o.startError.message}`;
  if (o.signal) return `signal: ${signalText(o.signal)}`;
  return `exit status ${o.code ?? -1}`;
}

const SIGNAL_TEXT: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGSEGV: 'segmentation fault',
  SIGABRT: 'aborted',
  SIGPIPE: 'broken pipe',
  SIGINT: 'interrupt',
};

function signalText(s: NodeJS.Signals): string {
  return SIGNAL_TEXT[s] ?? s;
}
