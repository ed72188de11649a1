// The function call an in-process handler is running for, across its awaits (inproc mode).
import { AsyncLocalStorage } from 'node:async_hooks';

/** What a line written by an in-process handler is tagged with. */
export interface CallScope {
  readonly callId: string;
}

/**
 * inproc runs each handler call inside this storage, so what the handler writes to stdout/stderr during
 * that call (main.ts routes it to the logger) is logged with the call's id. Fork modes never enter it.
 */
export const callScope = new AsyncLocalStorage<CallScope>();
