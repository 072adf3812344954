/**
 * A write leaves room on its disk. The editor bounds each write (max_write_bytes), not their
 * sum: a client writing files in a loop filled the filesystem the gateway's log, its data
 * directory and every other program on the host share. Before each file is written, statfs(2)
 * of its directory: the write is refused (NO_SPACE) when it would leave less than the floor
 * free, or when fewer than MIN_FREE_INODES inodes are left (a loop of empty files, or of
 * directories, runs out of inodes long before bytes).
 *
 * statfs sees only what is written. Writes under way count too (SpaceLedger): 20 parallel
 * writes each asked statfs before any of them had written, each saw the same room, and all
 * went through, the floor passed by as many writes as a client could run at once (review 25).
 */
import { stat, statfs } from 'node:fs/promises';
import { SandboxError, shown } from './fs-errors.js';

/** Inodes a write leaves free (when the filesystem counts them). */
export const MIN_FREE_INODES = 10_000;
/** Without min_free_bytes: 5% of the filesystem, at most 1 GiB. */
const DEFAULT_FLOOR_SHARE = 0.05;
const DEFAULT_FLOOR_MAX = 1024 ** 3;

interface Claim {
  bytes: number;
  inodes: number;
  /** The ledger's clock when the write ended; undefined while it runs. */
  ended?: number;
}

/**
 * Writes under way, per filesystem (st_dev), that statfs may not show yet. A claim still counts
 * after its write ends for a check whose statfs began before that end (its numbers may predate
 * the write); it is dropped once no such check is left.
 */
export class SpaceLedger {
  private clock = 0;
  private readonly claims = new Map<number, Claim[]>();
  /** Clock readings at which the checks in progress asked statfs. */
  private readonly asking = new Set<number>();

  /** Starts a check: statfs is asked after this. */
  begin(): number {
    const t = ++this.clock;
    this.asking.add(t);
    return t;
  }

  /** What a check begun at `t` must count beside statfs's numbers on `dev`; ends the check. */
  pending(dev: number, t: number): { bytes: number; inodes: number } {
    this.asking.delete(t);
    let bytes = 0;
    let inodes = 0;
    for (const c of this.claims.get(dev) ?? []) {
      if (c.ended !== undefined && c.ended < t) continue;
      bytes += c.bytes;
      inodes += c.inodes;
    }
    this.prune(dev);
    return { bytes, inodes };
  }

  /** Abandons a check begun at `t` (statfs failed). */
  cancel(t: number): void {
    this.asking.delete(t);
  }

  /** Claims room on `dev` until the returned function is called (once the write is done or failed). */
  claim(dev: number, bytes: number, inodes: number): () => void {
    const c: Claim = { bytes, inodes };
    let list = this.claims.get(dev);
    if (!list) this.claims.set(dev, (list = []));
    list.push(c);
    return () => {
      if (c.ended !== undefined) return;
      c.ended = ++this.clock;
      this.prune(dev);
    };
  }

  private prune(dev: number): void {
    const list = this.claims.get(dev);
    if (!list) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const t of this.asking) if (t < oldest) oldest = t;
    const kept = list.filter((c) => c.ended === undefined || c.ended > oldest);
    if (kept.length) this.claims.set(dev, kept);
    else this.claims.delete(dev);
  }
}

const NOTHING = () => {};

/**
 * Refuses a write of `bytes` (and `inodes` new inodes) into `dir` that would leave less than
 * `minFreeBytes` (else the default floor) free, counting the writes under way; else claims the
 * room until the returned function is called.
 */
export async function checkRoom(ledger: SpaceLedger, dir: string, bytes: number, minFreeBytes: number | undefined, userPath: string, inodes = 1): Promise<() => void> {
  const t = ledger.begin();
  let s: Awaited<ReturnType<typeof statfs>>;
  let dev: number;
  try {
    [s, dev] = await Promise.all([statfs(dir), stat(dir).then((st) => st.dev)]);
  } catch {
    // A filesystem that cannot say: the write goes on, and fails on its own if the disk is full.
    ledger.cancel(t);
    return NOTHING;
  }
  const pending = ledger.pending(dev, t);
  const free = s.bavail * s.bsize - pending.bytes;
  const floor = minFreeBytes ?? Math.min(DEFAULT_FLOOR_MAX, Math.floor(s.blocks * s.bsize * DEFAULT_FLOOR_SHARE));
  if (free - bytes < floor) {
    throw new SandboxError(
      'NO_SPACE',
      `writing ${bytes} bytes to ${shown(userPath)} would leave ${Math.max(0, free - bytes)} bytes free on its disk, under the ${floor} the editor keeps free (min_free_bytes)`,
      userPath,
    );
  }
  const ffree = s.ffree - pending.inodes;
  if (s.files > 0 && ffree < MIN_FREE_INODES) {
    throw new SandboxError('NO_SPACE', `the disk of ${shown(userPath)} has ${Math.max(0, ffree)} free inodes, under the ${MIN_FREE_INODES} the editor keeps free`, userPath);
  }
  return ledger.claim(dev, bytes, inodes);
}
