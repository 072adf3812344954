/** Self-registration's bounds held under attack by a registrar key (registration/registrations.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiscoveryConfig } from '../../../src/config/discovery.js';
import { type RegistrarHost, Registrations } from '../../../src/discovery/registration/registrations.js';
import { MemoryRegistrationStore } from '../../../src/discovery/registration/store.js';

const cfg: DiscoveryConfig['registration'] = {
  enabled: true,
  allowed_urls: ['http://127.0.0.1:*/mcp'],
  max_backends: 2,
  name_prefix: '',
  ttl: { default: 30_000, min: 1000, max: 60_000 },
  backend: {},
};

const host: RegistrarHost = { config: () => cfg, configured: () => false, heldBy: () => undefined, now: () => Date.now() };

describe('registrations: max_backends', () => {
  it('concurrent registrations of new names cannot hold more than max_backends (a registrar firing requests at once)', async () => {
    const store = new MemoryRegistrationStore();
    const regs = new Registrations(store, host);
    const bot = { name: 'bot', admin: false };
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => regs.register(`svc-${i}`, { url: `http://127.0.0.1:${4000 + i}/mcp` }, bot)));
    const held = await store.list(Date.now());
    assert.equal(held.length, 2, `the store holds ${held.length} registrations, max_backends is 2`);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(refused.length, 18);
    for (const r of refused) assert.match((r.reason as Error).message, /max_backends \(2\)/);
  });
});

describe('registrations: addresses never allowed', () => {
  it('a registration naming cloud metadata (however written) is refused even when allowed_urls admit every URL', async () => {
    const open: RegistrarHost = { ...host, config: () => ({ ...cfg, allowed_urls: ['http://**', 'https://**'] }) };
    const regs = new Registrations(new MemoryRegistrationStore(), open);
    const bot = { name: 'bot', admin: false };
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://2852039166/mcp', 'http://[::ffff:169.254.169.254]/mcp', 'http://0.0.0.0:8080/mcp'])
      await assert.rejects(regs.register('meta', { url }, bot), (err: Error & { kind?: string }) => /never allowed/.test(err.message), url);
    await regs.register('fine', { url: 'http://10.0.0.5:8080/mcp' }, bot);
  });
});
