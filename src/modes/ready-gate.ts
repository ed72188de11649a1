// Readiness of a long-lived function (http upstream, inproc module): requests that come early wait here.
import { performance } from 'node:perf_hooks';
import type { FunctionCall } from './mode.js';

type Waiter = (ready: boolean) => void;

/** Waiting until open() (the function is ready) or shut() (it never will be, or the watchdog stops). */
export class ReadyGate {
  /** True once the function is ready, until shut(): the fast path of every call. */
  isOpen = false;
  /** Why the function cannot be served (the first reason given to shut()); undefined while it can, or still may. */
  shutReason: string | undefined;
  private readonly waiters = new Set<Waiter>();

  /** The function is ready: every waiting call goes ahead. Ignored once shut. */
  open(): void {
    if (this.shutReason !== undefined) return;
    this.isOpen = true;
    this.wake(true);
  }

  /** The function can no longer be served: every waiting call is refused. The first reason wins. */
  shut(reason: string): void {
    this.shutReason ??= reason;
    this.isOpen = false;
    this.wake(false);
  }

  /** Resolves true once open; false after `ms`, on abort, or once shut. */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.isOpen) return Promise.resolve(true);
    if (this.shutReason !== undefined || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = (ok) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        resolve(ok);
      };
      const onAbort = (): void => waiter(false);
      const timer = Number.isFinite(ms) ? setTimeout(waiter, ms, false) : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /**
   * An early call (neither open nor shut yet): waits, bounded by the call's own timeout, then `serve`s it with
   * the time left (ms, 0 = none), or `refuse`s it (`timedOut`: exec_timeout ran out first; else shut).
   * Nothing happens if the client went away meanwhile.
   */
  serveWhenReady(call: FunctionCall, serve: (leftMs: number) => void, refuse: (timedOut: boolean) => void): void {
    this.wait(call.timeoutMs > 0 ? call.timeoutMs : Infinity, call.signal).then(
      (ok) => {
        if (call.res.destroyed || call.signal.aborted) return;
        if (ok) serve(call.timeoutMs > 0 ? Math.max(1, call.timeoutMs - (performance.now() - call.startedAt)) : 0);
        else refuse(this.shutReason === undefined);
      },
      () => call.res.destroy(),
    );
  }

  private wake(ok: boolean): void {
    for (const w of [...this.waiters]) w(ok);
    this.waiters.clear();
  }
}
