/**
 * Self-registration: a backend announces itself through the admin API (role registrar)
 * with a TTL it must renew; one that stops renewing expires, and is drained and removed
 * like any backend a source no longer lists. What a registration may say is bounded by
 * the config file (discovery.registration): only an HTTP(S) URL matching allowed_urls,
 * a name valid as a config name and not the config's, a TTL within [ttl.min, ttl.max],
 * at most max_backends at once. Nothing else: no headers, no program, no options.
 *
 * This file checks and stores registrations, and is the source (Provider) that lists
 * them to the manager: on every change it hears of, and every second for expiries.
 */
import { parseDuration } from '../../config/duration.js';
import type { DiscoveryConfig } from '../../config/discovery.js';
import { neverAllowed } from '../allowed-hosts.js';
import { checkUrl, urlAllowList, validName } from '../checks.js';
import type { DiscoveredBackend, Provider, Sink } from '../types.js';
import type { Registration, RegistrationStore } from './store.js';

export type RegistrationFailure = 'invalid' | 'forbidden' | 'conflict' | 'not_found' | 'unavailable';

/** A refused registration: `kind` says which HTTP status the admin API answers. */
export class RegistrationError extends Error {
  constructor(
    readonly kind: RegistrationFailure,
    message: string,
  ) {
    super(message);
    this.name = 'RegistrationError';
  }
}

const TRANSPORTS = ['auto', 'streamable_http', 'sse'] as const;
/** How often expiries are looked for (a registration lasts at least ttl.min, 1 s or more). */
const SWEEP_MS = 1000;

export interface RegistrarHost {
  /** discovery.registration in force (the config file's; admin changes cannot widen it: see admin/privileged.ts). */
  config(): Readonly<DiscoveryConfig['registration']>;
  /** A name the config file uses. */
  configured(name: string): boolean;
  /** The source (other than registration) that created a backend of this name, if one did. */
  heldBy(name: string): string | undefined;
  now(): number;
}

export interface RegisterRequest {
  url?: unknown;
  transport?: unknown;
  ttl?: unknown;
}

export class Registrations implements Provider<DiscoveredBackend> {
  readonly kind = 'registration';
  readonly source: string;
  private sink: Sink<DiscoveredBackend> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  /** The tail of the registration changes in progress (exclusive()). */
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: RegistrationStore,
    private readonly host: RegistrarHost,
  ) {
    this.source = `admin API registrations (${store.where})`;
  }

  start(sink: Sink<DiscoveredBackend>): void {
    this.sink = sink;
    this.unwatch = this.store.watch(() => void this.poll());
    this.timer = setInterval(() => void this.poll(), SWEEP_MS);
    this.timer.unref();
    void this.poll();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unwatch?.();
    this.sink = undefined;
  }

  /** Lists the store and hands the set to the manager; calls that overlap run once more after. */
  poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    const run = async () => {
      do {
        this.again = false;
        try {
          const list = await this.store.list(this.host.now());
          this.sink?.update(list.sort((a, b) => a.registeredAt - b.registeredAt).map(toBackend));
        } catch (err) {
          this.sink?.fail(err as Error);
        }
      } while (this.again);
    };
    this.polling = run().finally(() => (this.polling = undefined));
    return this.polling;
  }

  async list(): Promise<Registration[]> {
    return this.guard(() => this.store.list(this.host.now()));
  }

  /** Registers (or replaces) `name`; renewing is registering again with the same URL, or renew(). */
  async register(name: string, req: RegisterRequest, who: { name: string; admin: boolean }): Promise<{ registration: Registration; created: boolean }> {
    const cfg = this.host.config();
    if (!cfg.enabled) throw new RegistrationError('forbidden', 'self-registration is off: discovery.registration.enabled is false in the config file');
    const full = name;
    if (!full.startsWith(cfg.name_prefix))
      throw new RegistrationError('invalid', `name: registered backends' names start with "${cfg.name_prefix}" (discovery.registration.name_prefix)`);
    if (!validName(full)) throw new RegistrationError('invalid', `name: "${full}" is not a valid backend name (letters, digits, "_" or "-", at most 48)`);
    if (this.host.configured(full)) throw new RegistrationError('conflict', `name: the configuration has a backend named "${full}"`);
    const holder = this.host.heldBy(full);
    if (holder) throw new RegistrationError('conflict', `name: "${full}" is a backend discovered by ${holder}`);
    if (typeof req.url !== 'string') throw new RegistrationError('invalid', "url: expected a string (the backend's MCP endpoint, http:// or https://)");
    const u = checkUrl(req.url);
    if ('problem' in u) throw new RegistrationError('invalid', `url: ${u.problem}`);
    const never = neverAllowed(new URL(u.url).hostname.replace(/^\[(.*)\]$/, '$1'));
    if (never) throw new RegistrationError('forbidden', `url: ${never}`);
    if (!urlAllowList(cfg.allowed_urls, false)(u.canonical))
      throw new RegistrationError('forbidden', `url: ${u.canonical} is not allowed by discovery.registration.allowed_urls in the config file`);
    const transport = req.transport ?? 'auto';
    if (typeof transport !== 'string' || !(TRANSPORTS as readonly string[]).includes(transport))
      throw new RegistrationError('invalid', `transport: expected one of ${TRANSPORTS.join(', ')}`);
    const ttl = this.ttlOf(req.ttl, cfg);
    // The count and the write are one step: registrations arriving at once must not all see room under max_backends.
    const { registration, created } = await this.exclusive(async () => {
      const now = this.host.now();
      const all = await this.guard(() => this.store.list(now));
      const existing = all.find((r) => r.name === full);
      if (existing && existing.owner !== who.name && !who.admin)
        throw new RegistrationError('forbidden', `"${full}" is registered by another key; only it (or an admin key) may change it`);
      if (!existing && all.length >= cfg.max_backends)
        throw new RegistrationError('conflict', `discovery.registration.max_backends (${cfg.max_backends}) registrations are held; remove one first`);
      const registration: Registration = {
        name: full,
        url: u.url,
        transport: transport as Registration['transport'],
        owner: existing?.owner ?? who.name,
        registeredAt: existing?.registeredAt ?? now,
        renewedAt: now,
        expiresAt: now + ttl,
        ttl,
      };
      await this.guard(() => this.store.put(registration));
      return { registration, created: !existing };
    });
    await this.poll();
    return { registration, created };
  }

  /** Runs `f` after every earlier call of it has finished (one registration change at a time on this instance). */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.serial.then(f);
    this.serial = run.catch(() => {});
    return run;
  }

  async renew(name: string, req: { ttl?: unknown }, who: { name: string; admin: boolean }): Promise<Registration> {
    const cfg = this.host.config();
    if (!cfg.enabled) throw new RegistrationError('forbidden', 'self-registration is off: discovery.registration.enabled is false in the config file');
    // Read and written as one step: a renewal overlapping a removal must not bring the registration back.
    return this.exclusive(async () => {
      const now = this.host.now();
      const r = await this.owned(name, who, now);
      const ttl = req.ttl === undefined ? Math.min(cfg.ttl.max, Math.max(cfg.ttl.min, r.ttl)) : this.ttlOf(req.ttl, cfg);
      const next = { ...r, renewedAt: now, expiresAt: now + ttl, ttl };
      await this.guard(() => this.store.put(next));
      return next;
    });
  }

  async remove(name: string, who: { name: string; admin: boolean }): Promise<void> {
    await this.exclusive(async () => {
      await this.owned(name, who, this.host.now());
      await this.guard(() => this.store.delete(name));
    });
    await this.poll();
  }

  private async owned(full: string, who: { name: string; admin: boolean }, now: number): Promise<Registration> {
    const r = await this.guard(() => this.store.get(full, now));
    if (!r) throw new RegistrationError('not_found', `no registration "${full}" (it may have expired: register again)`);
    if (r.owner !== who.name && !who.admin) throw new RegistrationError('forbidden', `"${full}" is registered by another key; only it (or an admin key) may change it`);
    return r;
  }

  private ttlOf(raw: unknown, cfg: Readonly<DiscoveryConfig['registration']>): number {
    if (raw === undefined) return cfg.ttl.default;
    const ms = typeof raw === 'string' || typeof raw === 'number' ? parseDuration(raw) : undefined;
    if (ms === undefined) throw new RegistrationError('invalid', 'ttl: expected a duration such as 30s or 5m, or milliseconds as a number');
    if (ms < cfg.ttl.min || ms > cfg.ttl.max) throw new RegistrationError('invalid', `ttl: ${ms} ms is outside discovery.registration.ttl [${cfg.ttl.min} ms, ${cfg.ttl.max} ms]`);
    return ms;
  }

  /** A store that cannot be reached (Redis away) refuses the request; what is registered stays served. */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof RegistrationError) throw err;
      throw new RegistrationError('unavailable', `the registration store cannot be reached: ${(err as Error).message}`);
    }
  }
}

const toBackend = (r: Registration): DiscoveredBackend => ({ name: r.name, url: r.url, transport: r.transport, origin: `registered by ${r.owner}` });
