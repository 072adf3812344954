/**
 * One middleware signature for the HTTP edge, and the compose that chains them (the
 * shape of hono's compose.ts): each middleware gets the context and `next`, may answer
 * itself (not calling next) or act after next() resolves. A synchronous throw becomes a
 * rejection, so one catch covers both.
 */
import type { HttpContext } from './context.js';

export type Middleware = (ctx: HttpContext, next: () => Promise<void>) => Promise<void>;

export function compose(middleware: readonly Middleware[]): (ctx: HttpContext) => Promise<void> {
  const list = [...middleware];
  return (ctx) => {
    let last = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= last) return Promise.reject(new Error('next() called more than once'));
      last = i;
      const fn = list[i];
      if (!fn) return Promise.resolve();
      try {
        return fn(ctx, () => dispatch(i + 1));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}
