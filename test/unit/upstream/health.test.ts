import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import type { BackendOptions } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { BackendConnection } from '../../../src/upstream/connection.js';
import { ReplicaHealth, type HealthHook } from '../../../src/upstream/health.js';

const flush = () => new Promise((r) => setImmediate(r));

/** A backend's defaults with some traffic settings changed. */
function options(extra: Record<string, unknown>): BackendOptions {
  return validateConfig({ backends: { b: { type: 'mcp', command: 'x', ...extra } } }, 'test').backends.b as BackendOptions;
}

/** A catalog session whose probe answers as `answers` says (true: ok). */
function fakeConn(answers: { ok: boolean }) {
  const conn = {
    stateless: undefined,
    probes: [] as string[],
    deadlines: [] as number[],
    closedWith: undefined as string | undefined,
    request(method: string, _params: unknown, opts: { timeoutMs: number }) {
      conn.probes.push(method);
      conn.deadlines.push(opts.timeoutMs);
      return answers.ok ? Promise.resolve({}) : Promise.reject(new Error('no answer'));
    },
    async close(reason: string) {
      conn.closedWith = reason;
    },
  };
  return conn;
}

function setup(cfg: BackendOptions, hook?: HealthHook) {
  const answers = { ok: true };
  const conn = fakeConn(answers);
  const host = { up: true, changes: 0, connection: conn as unknown as BackendConnection | undefined };
  const health = new ReplicaHealth({
    id: 'b#0',
    cfg,
    log: silentLogger(),
    hook,
    connection: () => host.connection,
    isUp: () => host.up,
    changed: () => void host.changes++,
  });
  return { health, host, conn, answers };
}

describe('ReplicaHealth: active health checks (fake clock)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('takes the replica out after unhealthy_threshold failed pings in a row, back after healthy_threshold good ones', async () => {
    const { health, host, conn, answers } = setup(options({ health_check: { interval: 1_000, unhealthy_threshold: 2, healthy_threshold: 3 } }));
    health.start();
    answers.ok = false;
    mock.timers.tick(1_000);
    await flush();
    assert.equal(health.healthy, true, 'one failure is not enough');
    mock.timers.tick(1_000);
    await flush();
    assert.equal(health.healthy, false);
    assert.equal(host.changes, 1);
    answers.ok = true;
    for (let i = 0; i < 2; i++) {
      mock.timers.tick(1_000);
      await flush();
    }
    assert.equal(health.healthy, false, 'two good checks of three');
    mock.timers.tick(1_000);
    await flush();
    assert.equal(health.healthy, true);
    assert.equal(host.changes, 2);
    assert.deepEqual(new Set(conn.probes), new Set(['ping']));
    health.stop();
  });

  it("asks the backend's own hook instead of pinging, when it has one", async () => {
    let ok = false;
    const { health, conn } = setup(options({ health_check: { interval: 1_000, unhealthy_threshold: 1 } }), async () => ({ ok }));
    health.start();
    mock.timers.tick(1_000);
    await flush();
    assert.equal(health.healthy, false);
    assert.deepEqual(conn.probes, [], 'no ping');
    ok = true;
    health.stop();
  });

  it('does not check while the replica is not up, nor when health checks are off', async () => {
    const down = setup(options({ health_check: { interval: 1_000, unhealthy_threshold: 1 } }));
    down.host.up = false;
    down.answers.ok = false;
    down.health.start();
    mock.timers.tick(5_000);
    await flush();
    assert.deepEqual(down.conn.probes, []);
    down.health.stop();
    const off = setup(options({ health_check: { enabled: false } }));
    off.health.start();
    mock.timers.tick(60_000);
    await flush();
    assert.deepEqual(off.conn.probes, []);
  });

  it('bounds the hook to 2 s', async () => {
    const { health } = setup(options({}), () => new Promise(() => {}));
    const answer = health.checkHook();
    mock.timers.tick(2_000);
    assert.deepEqual(await answer, { ok: false, detail: 'health check timed out after 2 s' });
  });

  it('reports a hook that throws as unhealthy, with its message', async () => {
    const { health } = setup(options({}), async () => {
      throw new Error('disk full');
    });
    assert.deepEqual(await health.checkHook(), { ok: false, detail: 'disk full' });
    assert.equal(await setup(options({})).health.checkHook(), undefined, 'no hook, no answer');
  });
});

describe('ReplicaHealth: outlier ejection (fake clock)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());
  const od = (extra: Record<string, unknown> = {}) => options({ outlier_detection: { consecutive_failures: 3, base_ejection_time: 1_000, ...extra } });

  it('ejects after consecutive_failures failures in a row, for base_ejection_time × ejections', () => {
    const { health, host } = setup(od());
    const yes = () => true;
    health.recordOutcome(true, yes);
    health.recordOutcome(true, yes);
    health.recordOutcome(false, yes); // a success resets the count
    health.recordOutcome(true, yes);
    health.recordOutcome(true, yes);
    assert.equal(health.ejectedUntil, 0);
    health.recordOutcome(true, yes);
    assert.equal(health.ejectedUntil, 1_001_000);
    assert.equal(health.ejections, 1);
    assert.equal(health.consecutiveFailures, 0);
    assert.equal(host.changes, 1);
    for (let i = 0; i < 3; i++) health.recordOutcome(true, yes);
    assert.equal(health.ejections, 1, 'not ejected again while ejected');
    mock.timers.setTime(1_001_000);
    for (let i = 0; i < 3; i++) health.recordOutcome(true, yes);
    assert.equal(health.ejectedUntil, 1_001_000 + 2_000, 'the second ejection lasts twice as long');
  });

  it('does not eject when mayEject says no (max_ejection_percent), nor when outlier detection is off', () => {
    const a = setup(od());
    for (let i = 0; i < 5; i++) a.health.recordOutcome(true, () => false);
    assert.equal(a.health.ejectedUntil, 0);
    const b = setup(od({ enabled: false }));
    for (let i = 0; i < 5; i++) b.health.recordOutcome(true, () => true);
    assert.equal(b.health.ejectedUntil, 0);
  });
});

describe('ReplicaHealth: a transport failure', () => {
  it('closes the catalog session when the probe fails too, once however many calls report it', async () => {
    const { health, conn, answers } = setup(options({}));
    answers.ok = false;
    health.reportTransportFailure();
    health.reportTransportFailure();
    await flush();
    assert.deepEqual(conn.probes, ['ping']);
    assert.match(conn.closedWith ?? '', /^health probe failed: no answer/);
  });

  it('keeps the session when the probe answers, and probes with server/discover on the stateless revision', async () => {
    const { health, conn } = setup(options({}));
    (conn as { stateless: unknown }).stateless = { version: '2026-07-28' };
    health.reportTransportFailure();
    await flush();
    assert.deepEqual(conn.probes, ['server/discover']);
    assert.equal(conn.closedWith, undefined);
  });

  it('gives the probe a deadline: the backend’s timeout, at most 5 s, and 5 s when the backend has none (0)', async () => {
    for (const [timeout, deadline] of [
      [800, 800],
      [60_000, 5_000],
      [0, 5_000],
    ]) {
      const { health, conn } = setup(options({ timeout }));
      health.reportTransportFailure();
      await flush();
      assert.deepEqual(conn.deadlines, [deadline], `timeout ${timeout}`);
    }
  });

  it('does nothing while the replica is not up', async () => {
    const { health, host, conn } = setup(options({}));
    host.up = false;
    health.reportTransportFailure();
    await flush();
    assert.deepEqual(conn.probes, []);
  });
});
