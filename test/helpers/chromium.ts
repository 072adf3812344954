/** Where the headless Chromium the console tests drive is: CHROMIUM_PATH, else `chromium` on PATH (Debian's package). */
import { execFileSync } from 'node:child_process';

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
}
