/**
 * Cancellation of one relayed request, without an AbortController per request on the hot
 * path: the relay registers what cancelling does while the call is in flight (a plain
 * property), and notifications/cancelled or a closing session triggers it.
 */
export class Cancellation {
  cancelled = false;
  reason: unknown;
  /** Cancelled by the gateway to stop the work, not by the client: the client still gets an answer. */
  internal = false;
  private action: ((reason: unknown) => void) | undefined;

  cancel(reason: unknown, internal = false): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.reason = reason;
    this.internal = internal;
    const act = this.action;
    this.action = undefined;
    act?.(reason);
  }

  /** What cancelling does from now on (undefined once the call has settled). */
  onCancel(action: ((reason: unknown) => void) | undefined): void {
    this.action = action;
  }
}
