/**
 * Config schema of authorization (docs/auth.md, "Authorization"): rules that say which
 * principals may (or may not) reach which backends, tools, prompts and resources. Patterns
 * are globs (util/glob.ts: picomatch's syntax, run on RE2) compiled here once, so a bad one
 * is a config error naming its key; the engine (src/authz/) compiles them again from the
 * frozen snapshot.
 */
import { z } from 'zod';
import { globSource, compileRe2 } from '../util/glob.js';

/** Names a decision may carry besides a rule's: no rule matched, or the target was refused before matching. */
export const RESERVED_RULE_NAMES = ['default', 'limit'] as const;

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const pattern = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((g, ctx) => {
    try {
      compileRe2(globSource(g), g);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
const patterns = z.array(pattern).max(1000).optional();

/** What a rule allows or denies: any of these matching the target makes the rule apply. */
const targetsSchema = z
  .object({
    /** Backend (or plugin) names: everything the backend offers, and the backend itself. */
    backends: patterns,
    /** Without "/": the tool's aggregate name (`git__status`); with "/": `<backend>/<tool's own name>`. */
    tools: patterns,
    /** As tools. */
    prompts: patterns,
    /** Resource URIs (and resource templates in resources/templates/list, by their template text). */
    resources: patterns,
  })
  .strict()
  .refine((t) => Object.values(t).some((v) => v !== undefined && v.length > 0), 'list at least one of backends, tools, prompts or resources');

const names = z.array(z.string().min(1).max(1024)).max(10_000).optional();

/** Who a rule is about: a principal matching any listed attribute. */
const principalsSchema = z
  .object({
    /** Principal ids: `anonymous`, `key:<name>`, `oauth:<issuer>#<sub>`. */
    ids: names,
    /** OAuth `sub` claims (from any configured issuer: use ids to name the issuer too). */
    subjects: names,
    /** OAuth client ids (`client_id` or `azp`). */
    client_ids: names,
    /** Groups or roles (the configured token claim, or an API key's groups). */
    groups: names,
    /** API key names. */
    api_keys: names,
    kinds: z.array(z.enum(['anonymous', 'api_key', 'oauth'])).optional(),
  })
  .strict()
  .refine(
    (p) => Object.values(p).some((v) => v !== undefined && v.length > 0),
    'list at least one of ids, subjects, client_ids, groups, api_keys or kinds (omit "principals" for a rule about everyone)',
  );

const ruleSchema = z
  .object({
    name: z
      .string()
      .regex(RULE_NAME, 'rule names use letters, digits, "_", "." or "-" (at most 64), starting with a letter or digit')
      .refine((n) => !(RESERVED_RULE_NAMES as readonly string[]).includes(n), `"default" and "limit" are reserved (decisions no rule made carry them)`),
    description: z.string().max(1000).optional(),
    /** Omitted: the rule is about every principal. */
    principals: principalsSchema.optional(),
    allow: targetsSchema.optional(),
    deny: targetsSchema.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.allow === undefined) === (r.deny === undefined)) ctx.addIssue({ code: 'custom', message: `rule "${r.name}": give exactly one of "allow" or "deny"` });
  });

export const authorizationSchema = z
  .object({
    /** When no rule applies. `allow` keeps an unconfigured gateway's behaviour. */
    default: z.enum(['allow', 'deny']).default('allow'),
    rules: z.array(ruleSchema).max(1000).default([]),
  })
  .strict()
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.rules.forEach((r, i) => {
      if (seen.has(r.name))
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule name "${r.name}" is used twice; names must be unique (errors and audit lines name the rule)` });
      seen.add(r.name);
    });
  })
  .optional();

export type AuthorizationConfig = NonNullable<z.output<typeof authorizationSchema>>;
export type AuthorizationRule = AuthorizationConfig['rules'][number];
export type AuthorizationTargets = NonNullable<AuthorizationRule['allow']>;
