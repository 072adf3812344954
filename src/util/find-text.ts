/**
 * Substring search in time linear in the text, for needles a client chooses. V8's
 * `indexOf`/`includes` build their Boyer–Moore tables from the last 250 characters of the
 * needle only (string-search.h, kBMMaxShift), so a longer needle that almost matches at
 * every position — `"a"×k + "b" + "a"×k` in a run of "a" — costs needle × text: 40 s for a
 * 400 000-character needle in a 1 MB file, on the event loop. Needles up to that length
 * keep the native search (linear for them, and much faster); longer ones, and counting
 * overlapping occurrences (each a full comparison for the native search: "a"×250 occurs a
 * million times in a million "a"), use Knuth–Morris–Pratt (D. E. Knuth, J. H. Morris, V. R. Pratt, "Fast pattern matching in
 * strings", SIAM J. Comput. 6(2), 1977), which reads each text character a bounded number
 * of times.
 */

/** Longest needle V8 searches in linear time (its Boyer–Moore shift table size). */
const NATIVE_MAX = 250;

export class TextFinder {
  /** next[i]: length of the longest proper prefix of needle[0..i] that is also its suffix. */
  private readonly next: Int32Array;

  constructor(readonly needle: string) {
    if (needle === '') throw new RangeError('TextFinder: the needle must not be empty');
    const next = new Int32Array(needle.length);
    for (let i = 1, k = 0; i < needle.length; i++) {
      const c = needle.charCodeAt(i);
      while (k > 0 && c !== needle.charCodeAt(k)) k = next[k - 1];
      if (c === needle.charCodeAt(k)) k++;
      next[i] = k;
    }
    this.next = next;
  }

  /** Like `text.indexOf(needle, from)`, in UTF-16 code units. */
  indexOf(text: string, from = 0): number {
    if (this.needle.length <= NATIVE_MAX) return text.indexOf(this.needle, from);
    for (const at of this.scan(text, from)) return at;
    return -1;
  }

  includes(text: string): boolean {
    return this.indexOf(text) !== -1;
  }

  /** Occurrences in `text`, overlapping ones included ("aa" occurs twice in "aaa"). */
  count(text: string): number {
    let n = 0;
    for (const _ of this.scan(text, 0)) n++;
    return n;
  }

  /** Start offsets of every occurrence from `from` on, overlapping ones included. */
  private *scan(text: string, from: number): Generator<number> {
    const { needle, next } = this;
    const m = needle.length;
    for (let i = Math.max(0, from), k = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      while (k > 0 && c !== needle.charCodeAt(k)) k = next[k - 1];
      if (c === needle.charCodeAt(k)) k++;
      if (k === m) {
        yield i - m + 1;
        k = next[m - 1];
      }
    }
  }
}
