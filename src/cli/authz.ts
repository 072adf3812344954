/**
 * `mcpeg authz explain`: what a principal may do and why. Offline from the config file
 * (no running gateway: the backends are known, not their catalogs, so a tool is named as
 * `git__status`, `git/status` or `--backend git --tool status`), or against a running
 * gateway's admin API (`--admin URL`, the key in MCPEG_ADMIN_KEY), which also knows what
 * each backend lists now.
 */
import { Authorizer } from '../authz/engine.js';
import { explainAll, explainTarget } from '../authz/explain.js';
import { EXPLAIN_PARAMS, parseExplainQuery } from '../authz/explain-query.js';
import { principalFrom } from '../authz/principal-query.js';
import { EXIT, loadOrReport, tryParse } from './common.js';

const USAGE = `Usage: mcpeg authz explain [--config FILE | --admin URL] [who] [target] [--json]
who:    --principal ID (anonymous, key:<name>, oauth:<issuer>#<sub>)
        and/or --sub S --client-id C --issuer I --api-key NAME --groups a,b
target: --tool NAME | --prompt NAME | --resource URI   (NAME: git__status or git/status;
        with --backend B, the backend's own name), or --backend B alone; none: every backend
--config reads the config file (or MCPEG_CONFIG) and needs no running gateway: it knows
the backends, not what they list. --admin asks a running gateway's admin API (its base
URL, e.g. http://127.0.0.1:9090; the key in MCPEG_ADMIN_KEY), which also lists each
backend's tools, prompts and resources with their decisions.
Exit 0 when answered (the answer says allowed or not), 2 on a usage error, 3 on an invalid config.`;

const FLAGS = {
  config: { type: 'string', short: 'c' },
  admin: { type: 'string' },
  json: { type: 'boolean' },
  principal: { type: 'string' },
  sub: { type: 'string' },
  'client-id': { type: 'string' },
  issuer: { type: 'string' },
  'api-key': { type: 'string' },
  groups: { type: 'string', multiple: true },
  tool: { type: 'string' },
  prompt: { type: 'string' },
  resource: { type: 'string' },
  backend: { type: 'string' },
} as const;

export async function runAuthz(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  if (sub !== 'explain') {
    process.stderr.write(`mcpeg: authz needs a subcommand: explain\n${USAGE}\n`);
    return EXIT.USAGE;
  }
  const parsed = tryParse(rest, FLAGS, USAGE);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  // Flags as the admin API's query parameters (--client-id is client_id).
  const params: Array<[string, string]> = [];
  for (const name of EXPLAIN_PARAMS) {
    const value = v[name.replace('_', '-')];
    for (const x of Array.isArray(value) ? value : typeof value === 'string' ? [value] : []) params.push([name, x]);
  }
  let answer: unknown;
  if (typeof v.admin === 'string') {
    if (typeof v.config === 'string') return usage('give --config or --admin, not both');
    const r = await askAdmin(v.admin, params);
    if (typeof r === 'number') return r;
    answer = r;
  } else {
    const config = loadOrReport(v.config as string | undefined);
    if (typeof config === 'number') return config;
    try {
      const query = parseExplainQuery(params);
      const principal = principalFrom(query.principal, config);
      const engine = new Authorizer(config.authorization ?? { default: 'allow', rules: [] }, config);
      const backends = [...Object.keys(config.backends), ...config.plugins.map((p) => p.name)];
      const configured = config.authorization !== undefined;
      answer = query.target
        ? explainTarget(engine, principal, query.target, backends, { configured })
        : explainAll(
            engine,
            principal,
            backends.map((name) => ({ name })),
            configured,
          );
    } catch (err) {
      return usage((err as Error).message);
    }
  }
  process.stdout.write(v.json ? `${JSON.stringify(answer, null, 2)}\n` : render(answer as Answer));
  return EXIT.OK;
}

function usage(message: string): number {
  process.stderr.write(`mcpeg: ${message}\n${USAGE}\n`);
  return EXIT.USAGE;
}

async function askAdmin(base: string, params: Array<[string, string]>): Promise<unknown> {
  const key = process.env.MCPEG_ADMIN_KEY;
  const url = `${base.replace(/\/+$/, '').replace(/\/admin$/, '')}/admin/authz/explain?${new URLSearchParams(params).toString()}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: key ? { 'x-admin-api-key': key } : {} });
  } catch (err) {
    process.stderr.write(`mcpeg: cannot reach the admin API at ${base}: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
  const body = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  if (res.status !== 200) {
    process.stderr.write(`mcpeg: the admin API answered ${res.status}: ${body?.error?.message ?? ''}\n`);
    return res.status === 400 ? EXIT.USAGE : EXIT.FAILURE;
  }
  return body;
}

interface Verdict {
  allowed: boolean;
  rule: string;
  reason: string;
}
interface Item extends Verdict {
  name: string;
  exposed?: string;
  backend?: string;
}
interface Answer {
  configured: boolean;
  default: string;
  principal: { id: string; kind: string; groups: string[] };
  rules: string[];
  target?: { kind: string; name: string };
  allowed?: boolean;
  decisions?: Item[];
  backends?: Array<Item & { tools: Item[]; prompts: Item[]; resources: Item[]; resourceTemplates: Item[] }>;
}

const verdict = (d: Verdict) => `${d.allowed ? 'allowed' : 'DENIED'} (rule ${d.rule}): ${d.reason}`;

function render(a: Answer): string {
  const out = [
    `principal ${a.principal.id} (${a.principal.kind}${a.principal.groups.length ? `, groups ${a.principal.groups.join(', ')}` : ''})`,
    a.configured ? `rules about it: ${a.rules.length ? a.rules.join(', ') : 'none'}; default: ${a.default}` : 'authorization is not configured: everything is allowed',
  ];
  if (a.target) {
    if (a.decisions?.length === 0) out.push(`${a.target.kind} ${a.target.name}: no backend has this name (name it as <backend>/<name>, or give --backend)`);
    for (const d of a.decisions ?? []) out.push(`${a.target.kind} ${d.exposed ?? d.name} on backend ${d.backend} (${d.name}): ${verdict(d)}`);
  }
  for (const b of a.backends ?? []) {
    out.push(`backend ${b.name}: ${verdict(b)}`);
    for (const [kind, items] of [
      ['tool', b.tools],
      ['prompt', b.prompts],
      ['resource', b.resources],
      ['template', b.resourceTemplates],
    ] as const) {
      for (const i of items) out.push(`  ${kind} ${i.exposed ?? i.name}: ${i.allowed ? 'allowed' : 'DENIED'} (rule ${i.rule})`);
    }
  }
  return `${out.join('\n')}\n`;
}
