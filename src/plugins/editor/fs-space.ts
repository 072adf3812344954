/**
 * A write leaves room on its disk. The editor bounds each write (max_write_bytes), not their
 * sum: a client writing files in a loop filled the filesystem the gateway's log, its data
 * directory and every other program on the host share. Before each file is written, statfs(2)
 * of its directory: the write is refused (NO_SPACE) when it would leave less than the floor
 * free, or when fewer than MIN_FREE_INODES inodes are left (a loop of empty files, or of
 * directories, runs out of inodes long before bytes).
 */
import { statfs } from 'node:fs/promises';
import { SandboxError, shown } from './fs-errors.js';

/** Inodes a write leaves free (when the filesystem counts them). */
export const MIN_FREE_INODES = 10_000;
/** Without min_free_bytes: 5% of the filesystem, at most 1 GiB. */
const DEFAULT_FLOOR_SHARE = 0.05;
const DEFAULT_FLOOR_MAX = 1024 ** 3;

/** Refuses a write of `bytes` into `dir` that would leave less than `minFreeBytes` (else the default floor) free. */
export async function checkRoom(dir: string, bytes: number, minFreeBytes: number | undefined, userPath: string): Promise<void> {
  let s: Awaited<ReturnType<typeof statfs>>;
  try {
    s = await statfs(dir);
  } catch {
    // A filesystem that cannot say: the write goes on, and fails on its own if the disk is full.
    return;
  }
  const free = s.bavail * s.bsize;
  const floor = minFreeBytes ?? Math.min(DEFAULT_FLOOR_MAX, Math.floor(s.blocks * s.bsize * DEFAULT_FLOOR_SHARE));
  if (free - bytes < floor) {
    throw new SandboxError(
      'NO_SPACE',
      `writing ${bytes} bytes to ${shown(userPath)} would leave ${Math.max(0, free - bytes)} bytes free on its disk, under the ${floor} the editor keeps free (min_free_bytes)`,
      userPath,
    );
  }
  if (s.files > 0 && s.ffree < MIN_FREE_INODES) {
    throw new SandboxError('NO_SPACE', `the disk of ${shown(userPath)} has ${s.ffree} free inodes, under the ${MIN_FREE_INODES} the editor keeps free`, userPath);
  }
}
