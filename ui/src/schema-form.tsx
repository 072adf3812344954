/**
 * A form generated from a tool's input schema (JSON Schema): one labelled field per
 * top-level property — text, number, checkbox, a select for enums, JSON text for objects
 * and arrays. Returns the arguments object, or the first field that does not parse.
 */
import { useState } from 'preact/hooks';

type Schema = { type?: string | string[]; enum?: unknown[]; description?: string; default?: unknown };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A property's schema as the form reads it: a backend wrote it (untrusted), so each keyword only when of its type. */
function fieldSchema(v: unknown): Schema {
  if (!isObject(v)) return {};
  const type = typeof v.type === 'string' ? v.type : Array.isArray(v.type) ? v.type.filter((t): t is string => typeof t === 'string') : undefined;
  return {
    ...(type === undefined ? {} : { type }),
    ...(Array.isArray(v.enum) ? { enum: v.enum } : {}),
    ...(typeof v.description === 'string' ? { description: v.description } : {}),
    ...(v.default === undefined ? {} : { default: v.default }),
  };
}

export function fieldsOf(schema: Record<string, unknown> | null): Array<{ name: string; s: Schema; required: boolean }> {
  const props = isObject(schema?.properties) ? schema.properties : {};
  const req = new Set(Array.isArray(schema?.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
  return Object.keys(props).map((name) => ({ name, s: fieldSchema(props[name]), required: req.has(name) }));
}

/**
 * A backend's value as text. String() runs a JSON object's own "toString"/"valueOf" members
 * and throws when neither is a function ({"toString": 1}), which ended the console's render.
 */
export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || typeof v !== 'object') return String(v);
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '?';
  }
}

/** A field's value: own properties only, so a field a backend named "toString" or "constructor" starts empty. */
const own = (values: Record<string, string | boolean>, name: string): string | boolean | undefined => (Object.hasOwn(values, name) ? values[name] : undefined);

const typeOf = (s: Schema) => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type) ?? 'json';

export function readArgs(fields: ReturnType<typeof fieldsOf>, values: Record<string, string | boolean>): { args: Record<string, unknown> } | { error: string } {
  const args: Record<string, unknown> = {};
  // defineProperty: a field named "__proto__" is an argument, not the object's prototype.
  const put = (name: string, v: unknown) => Object.defineProperty(args, name, { value: v, enumerable: true, writable: true, configurable: true });
  for (const { name, s, required } of fields) {
    const v = own(values, name);
    const t = typeOf(s);
    if (t === 'boolean') {
      if (v !== undefined) put(name, v === true);
      continue;
    }
    if (v === undefined || v === '') {
      if (required) return { error: `${name}: required` };
      continue;
    }
    const text = String(v);
    if (s.enum) {
      const hit = s.enum.find((e) => textOf(e) === text);
      put(name, hit ?? text);
    } else if (t === 'number' || t === 'integer') {
      const n = Number(text);
      if (!Number.isFinite(n) || (t === 'integer' && !Number.isInteger(n))) return { error: `${name}: expected ${t === 'integer' ? 'an integer' : 'a number'}` };
      put(name, n);
    } else if (t === 'string') put(name, text);
    else {
      try {
        put(name, JSON.parse(text));
      } catch {
        return { error: `${name}: not valid JSON` };
      }
    }
  }
  return { args };
}

export function SchemaForm({
  idPrefix,
  schema,
  disabled,
  onSubmit,
}: {
  idPrefix: string;
  schema: Record<string, unknown> | null;
  disabled: boolean;
  onSubmit: (args: Record<string, unknown>) => void;
}) {
  const fields = fieldsOf(schema);
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [error, setError] = useState<string>();
  const set = (name: string, v: string | boolean) => setValues((old) => ({ ...old, [name]: v }));
  return (
    <form
      class="schema-form"
      onSubmit={(e) => {
        e.preventDefault();
        const r = readArgs(fields, values);
        if ('error' in r) setError(r.error);
        else {
          setError(undefined);
          onSubmit(r.args);
        }
      }}
    >
      {fields.length === 0 && <p class="muted">This tool takes no arguments.</p>}
      {fields.map(({ name, s, required }) => {
        const id = `${idPrefix}-${name}`;
        const t = typeOf(s);
        const help = s.description ? `${id}-help` : undefined;
        return (
          <div class="field" key={name}>
            <label for={id}>
              {name}
              {required && <span aria-hidden="true"> *</span>}
              <span class="muted small"> {s.enum ? 'one of' : t}</span>
            </label>
            {t === 'boolean' ? (
              <input id={id} type="checkbox" aria-describedby={help} checked={own(values, name) === true} onChange={(e) => set(name, (e.target as HTMLInputElement).checked)} />
            ) : s.enum ? (
              <select
                id={id}
                required={required}
                aria-describedby={help}
                value={String(own(values, name) ?? '')}
                onChange={(e) => set(name, (e.target as HTMLSelectElement).value)}
              >
                <option value="">—</option>
                {s.enum.map((v) => (
                  <option key={textOf(v)} value={textOf(v)}>
                    {textOf(v)}
                  </option>
                ))}
              </select>
            ) : t === 'string' || t === 'number' || t === 'integer' ? (
              <input
                id={id}
                {...({ type: t === 'string' ? 'text' : 'number' } as { type: 'text' })}
                step={t === 'integer' ? 1 : 'any'}
                required={required}
                aria-describedby={help}
                placeholder={s.default !== undefined ? textOf(s.default) : undefined}
                value={String(own(values, name) ?? '')}
                onInput={(e) => set(name, (e.target as HTMLInputElement).value)}
              />
            ) : (
              <textarea
                id={id}
                rows={3}
                required={required}
                aria-describedby={help}
                placeholder="JSON"
                value={String(own(values, name) ?? '')}
                onInput={(e) => set(name, (e.target as HTMLTextAreaElement).value)}
              />
            )}
            {s.description && (
              <p id={help} class="muted small">
                {s.description}
              </p>
            )}
          </div>
        );
      })}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <button type="submit" disabled={disabled}>
        Call
      </button>
      {disabled && <span class="muted small"> Calling a tool needs an admin key.</span>}
    </form>
  );
}
