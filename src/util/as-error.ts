/**
 * What code outside the gateway's own (a plugin's start, stop, health or handlers) throws
 * is not always an Error: `reject()`, `throw null`, `throw "text"`, `throw {toString: 1}`.
 * Code that reads `err.message` from such a value throws in turn, often in a catch or a
 * timer where nothing handles it, and the process ends. At the boundary where the gateway
 * calls that code, every failure is turned into an Error here.
 */

/**
 * The value as an Error: an Error as it is, a string as its message (`throw "text"`),
 * anything else described by its kind, without calling its own methods.
 */
export function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  const message = ownMessage(value);
  return new Error(message ?? `threw ${describe(value)}, not an Error`);
}

/** An object's own `message` when it is text (an Error of another realm, `{message, code}`), read without running a getter. */
function ownMessage(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    const d = Object.getOwnPropertyDescriptor(value, 'message');
    return typeof d?.value === 'string' ? d.value : undefined;
  } catch {
    return undefined; // a Proxy whose trap throws
  }
}

/** Runs `f` (sync or async); what it throws or rejects with comes back as an Error. */
export async function failingWithErrors<T>(f: () => T | PromiseLike<T>): Promise<Awaited<T>> {
  try {
    return await f();
  } catch (err) {
    throw asError(err);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      // An object's own toString or toJSON may throw or be anything: only its kind is shown.
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}
