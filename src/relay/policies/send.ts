/**
 * The end of the chain: the call on the picked connection (the protocol layer's `send`,
 * which bridges lifecycles), counted as active on its replica (least_connections). A
 * broken connection is dropped, so the next call opens a fresh one, and the replica's
 * health is probed.
 */
import { isTransportFailure } from '../failures.js';
import type { Relay, RelayClient, RelayDeps } from '../types.js';

export function send<S extends RelayClient>(deps: RelayDeps<S>): Relay<S> {
  return async (c) => {
    const target = c.target!;
    const { conn, replica } = target;
    replica.active++;
    try {
      return await deps.send(c, target);
    } catch (err) {
      if (isTransportFailure(err)) {
        if (conn !== replica.sharedConnection) void conn.close(err.message);
        replica.reportTransportFailure();
      }
      throw err;
    } finally {
      replica.active--;
    }
  };
}
