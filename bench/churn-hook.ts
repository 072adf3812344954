/**
 * The hook for the "child processes under churn" section: bench/churn.ts, when it is
 * there, exports `runChurn` with this signature; without it the bench has no such
 * section. Loaded by a computed specifier, so the bench builds with or without it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ChurnOptions {
  root: string;
  tmp: string;
  node: string;
  log: (s: string) => void;
  quick: boolean;
}

export interface ChurnResult {
  sessions: number;
  abandoned: number;
  maxProcesses: number;
  peakChildren: number;
  peakRssBytes: number;
  floorChildren: number;
  failures: number;
}

export type RunChurn = (opts: ChurnOptions) => Promise<ChurnResult>;

/** bench/churn.js's runChurn, or undefined when the file is not there. */
export async function loadChurn(): Promise<RunChurn | undefined> {
  const url = new URL('./churn.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return undefined;
  const mod = (await import(url.href)) as { runChurn?: unknown };
  if (typeof mod.runChurn !== 'function') throw new Error(`${fileURLToPath(url)} does not export runChurn`);
  return mod.runChurn as RunChurn;
}
