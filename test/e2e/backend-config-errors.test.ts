/**
 * `mcpeg validate` on rest and command backend definitions: each mistake exits 3 with a
 * message naming its key path; a valid config with both kinds exits 0. Configs are
 * written as JSON (which is YAML), so templates need no quoting.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/catalog.js';
import { CLI } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-cfgerr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function validate(config: Record<string, unknown>): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `c${++n}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const r = spawnSync(process.execPath, [CLI, 'validate', '--config', file], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The problem lines of a ConfigError printed by the CLI ("  - key.path: message"). */
const problemsOf = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('  - '))
    .map((l) => l.slice(4));

const schema = (properties: Record<string, unknown> = { id: { type: 'string' }, q: { type: 'string' } }, required = ['id']) => ({ type: 'object', properties, required });
const restTool = (over: Record<string, unknown> = {}) => ({ method: 'GET', path: '/items/{id}', input_schema: schema(), ...over });
const rest = (tool: Record<string, unknown>, backend: Record<string, unknown> = {}) => ({
  backends: { api: { type: 'rest', base_url: 'http://127.0.0.1:9/v1', tools: { t: tool }, ...backend } },
});
const cmdTool = (over: Record<string, unknown> = {}) => ({ command: process.execPath, args: ['-v'], input_schema: schema(), ...over });
const command = (tool: Record<string, unknown>, backend: Record<string, unknown> = {}) => ({
  backends: { run: { type: 'command', tools: { t: tool }, ...backend } },
});

interface Case {
  name: string;
  config: Record<string, unknown>;
  /** Each must match one problem line. */
  expect: RegExp[];
}

const REST = 'backends\\.api\\.tools\\.t';
const CMD = 'backends\\.run\\.tools\\.t';

const cases: Case[] = [
  // rest: method and path
  { name: 'unknown HTTP method', config: rest(restTool({ method: 'FETCH' })), expect: [new RegExp(`^${REST}\\.method: .*GET`)] },
  {
    name: 'path parameter missing from input_schema',
    config: rest(restTool({ path: '/users/{uid}' })),
    expect: [new RegExp(`^${REST}\\.path: \\{uid\\} is not a property of input_schema`)],
  },
  {
    name: 'path parameter not in required',
    config: rest(restTool({ input_schema: schema(undefined, []) })),
    expect: [new RegExp(`^${REST}\\.path: path parameter \\{id\\} must be listed in input_schema\\.required`)],
  },
  { name: 'path not starting with /', config: rest(restTool({ path: 'items/{id}' })), expect: [new RegExp(`^${REST}\\.path: expected a path starting with "/"`)] },
  // bad templates in each place
  { name: 'unclosed { in path', config: rest(restTool({ path: '/items/{id' })), expect: [new RegExp(`^${REST}\\.path: bad template: unclosed "\\{" at position 8`)] },
  { name: 'stray } in path', config: rest(restTool({ path: '/items/id}' })), expect: [new RegExp(`^${REST}\\.path: bad template: unmatched "\\}" at position 10`)] },
  { name: 'empty {} in path', config: rest(restTool({ path: '/items/{id}/{}' })), expect: [new RegExp(`^${REST}\\.path: bad template: empty placeholder "\\{\\}"`)] },
  { name: 'bad template in query', config: rest(restTool({ query: { q: '{q', limit: 10 } })), expect: [new RegExp(`^${REST}\\.query\\.q: bad template: unclosed`)] },
  {
    name: 'bad template in headers',
    config: rest(restTool({ headers: { 'X-Trace': 'a}b' } })),
    expect: [new RegExp(`^${REST}\\.headers\\.X-Trace: bad template: unmatched "\\}"`)],
  },
  {
    name: 'bad template deep in body.template',
    config: rest(restTool({ method: 'POST', body: { template: { a: { b: ['ok {q}', '{}'] } } } })),
    expect: [new RegExp(`^${REST}\\.body\\.template\\.a\\.b\\.1: bad template: empty placeholder`)],
  },
  { name: 'bad template in command args', config: command(cmdTool({ args: ['--id', '{id'] })), expect: [new RegExp(`^${CMD}\\.args\\.1: bad template: unclosed "\\{"`)] },
  {
    name: 'bad template in an {if, then} element',
    config: command(cmdTool({ args: [{ if: 'q', then: ['--q', 'x}'] }] })),
    expect: [new RegExp(`^${CMD}\\.args\\.0\\.then\\.1: bad template: unmatched "\\}"`)],
  },
  { name: 'bad template in stdin', config: command(cmdTool({ stdin: 'id={}' })), expect: [new RegExp(`^${CMD}\\.stdin: bad template: empty placeholder`)] },
  // templates naming unknown arguments
  {
    name: 'query template names an unknown argument',
    config: rest(restTool({ query: { q: '{nope}' } })),
    expect: [new RegExp(`^${REST}\\.query\\.q: \\{nope\\} is not a property of input_schema`)],
  },
  {
    name: 'header template names an unknown argument',
    config: rest(restTool({ headers: { 'X-A': 'Bearer {tok}' } })),
    expect: [new RegExp(`^${REST}\\.headers\\.X-A: \\{tok\\} is not a property`)],
  },
  {
    name: 'body template names an unknown argument',
    config: rest(restTool({ method: 'PUT', body: { template: { name: '{who}' } } })),
    expect: [new RegExp(`^${REST}\\.body\\.template\\.name: \\{who\\} is not a property`)],
  },
  {
    name: 'body.arg names an unknown argument',
    config: rest(restTool({ method: 'POST', body: { arg: 'payload' } })),
    expect: [new RegExp(`^${REST}\\.body\\.arg: "payload" is not a property`)],
  },
  {
    name: 'body.fields names an unknown argument',
    config: rest(restTool({ method: 'POST', body: { fields: ['q', 'zz'] } })),
    expect: [new RegExp(`^${REST}\\.body\\.fields\\.1: "zz" is not a property`)],
  },
  {
    name: 'command arg names an unknown argument',
    config: command(cmdTool({ args: ['--name={name}'] })),
    expect: [new RegExp(`^${CMD}\\.args\\.0: \\{name\\} is not a property of input_schema`)],
  },
  {
    name: 'if names an unknown argument',
    config: command(cmdTool({ args: [{ if: 'verbose', then: ['-v'] }] })),
    expect: [new RegExp(`^${CMD}\\.args\\.0\\.if: "verbose" is not a property`)],
  },
  { name: 'stdin names an unknown argument', config: command(cmdTool({ stdin: 'hello {who}' })), expect: [new RegExp(`^${CMD}\\.stdin: \\{who\\} is not a property`)] },
  // bodies
  { name: 'body on GET', config: rest(restTool({ body: { fields: ['q'] } })), expect: [new RegExp(`^${REST}\\.body: a GET request has no body`)] },
  {
    name: 'body on HEAD (method in lower case)',
    config: rest(restTool({ method: 'head', body: { arg: 'q' } })),
    expect: [new RegExp(`^${REST}\\.body: a HEAD request has no body`)],
  },
  {
    name: 'two body kinds at once',
    config: rest(restTool({ method: 'POST', body: { arg: 'q', fields: ['q'] } })),
    expect: [new RegExp(`^${REST}\\.body: give at most one of "arg", "fields" and "template"`)],
  },
  // schemas
  {
    name: 'input_schema not type object (rest)',
    config: rest(restTool({ path: '/items', input_schema: { type: 'array' } })),
    expect: [new RegExp(`^${REST}\\.input_schema: expected a JSON Schema with type: object`)],
  },
  {
    name: 'input_schema that does not compile (command)',
    config: command(cmdTool({ input_schema: { type: 'object', properties: { id: { type: 'nosuchtype' } } } })),
    expect: [new RegExp(`^${CMD}\\.input_schema: not a valid JSON Schema: `)],
  },
  {
    name: 'output_schema not type object (rest)',
    config: rest(restTool({ output_schema: { type: 'string' } })),
    expect: [new RegExp(`^${REST}\\.output_schema: expected a JSON Schema with type: object`)],
  },
  {
    name: 'output_schema without output: json (command)',
    config: command(cmdTool({ output_schema: schema() })),
    expect: [new RegExp(`^${CMD}\\.output_schema: output_schema needs output: json`)],
  },
  // command program
  {
    name: 'command with whitespace in its name',
    config: command(cmdTool({ command: 'ls -la' })),
    expect: [new RegExp(`^${CMD}\\.command: the program name contains whitespace: put its arguments in "args"`)],
  },
  { name: 'empty command', config: command(cmdTool({ command: '' })), expect: [new RegExp(`^${CMD}\\.command: `)] },
  { name: 'unknown output kind', config: command(cmdTool({ output: 'yaml' })), expect: [new RegExp(`^${CMD}\\.output: `)] },
  // The key path is named; the message is zod's generic one (see the report: formatIssues drops the regex message of record keys).
  { name: 'tool name with a space', config: { backends: { run: { type: 'command', tools: { 'bad name': cmdTool() } } } }, expect: [/^backends\.run\.tools\.bad name: /] },
  { name: 'unknown key in a command tool', config: command(cmdTool({ shell: true })), expect: [new RegExp(`^${CMD}\\.shell: unknown key`)] },
  // response
  {
    name: 'response.pointer not a JSON pointer',
    config: rest(restTool({ response: { pointer: 'data/items' } })),
    expect: [new RegExp(`^${REST}\\.response\\.pointer: expected a JSON pointer such as /data/items; got "data/items"`)],
  },
  {
    name: 'response.pointer with a bad ~ escape',
    config: rest(restTool({ response: { pointer: '/a~2b' } })),
    expect: [new RegExp(`^${REST}\\.response\\.pointer: expected a JSON pointer`)],
  },
  {
    name: 'response.template with a non-pointer placeholder',
    config: rest(restTool({ response: { template: 'Name: {/name}, id: {id}' } })),
    expect: [new RegExp(`^${REST}\\.response\\.template: \\{id\\}: response placeholders are JSON pointers into the answer`)],
  },
  {
    name: 'response.template that does not parse',
    config: rest(restTool({ response: { template: 'Name: {/name' } })),
    expect: [new RegExp(`^${REST}\\.response\\.template: bad template: unclosed`)],
  },
  // backends
  { name: 'rest backend without tools', config: { backends: { api: { type: 'rest', base_url: 'http://127.0.0.1:9' } } }, expect: [/^backends\.api\.tools: /] },
  { name: 'rest backend with no tools', config: rest(restTool(), { tools: {} }), expect: [/^backends\.api\.tools: a rest backend needs at least one tool/] },
  { name: 'command backend with no tools', config: command(cmdTool(), { tools: {} }), expect: [/^backends\.run\.tools: a command backend needs at least one tool/] },
  { name: 'command backend without tools', config: { backends: { run: { type: 'command' } } }, expect: [/^backends\.run\.tools: /] },
  { name: 'rest backend without base_url', config: { backends: { api: { type: 'rest', tools: { t: restTool() } } } }, expect: [/^backends\.api\.base_url: /] },
  { name: 'rest backend with a non-http base_url', config: rest(restTool(), { base_url: 'ftp://example.com/' }), expect: [/^backends\.api\.base_url: /] },
  { name: 'command backend with max_concurrency 0', config: command(cmdTool(), { max_concurrency: 0 }), expect: [/^backends\.run\.max_concurrency: /] },
  {
    name: 'command backend with a bad max_output_bytes',
    config: command(cmdTool(), { max_output_bytes: 'lots' }),
    expect: [/^backends\.run\.max_output_bytes: expected a size such as/],
  },
  { name: 'tool timeout that is not a duration', config: command(cmdTool({ timeout: 'soon' })), expect: [new RegExp(`^${CMD}\\.timeout: expected a duration`)] },
];

/** The problems parseConfigText reports for a config (written as the CLI would read it). */
function problemsIn(config: Record<string, unknown>): readonly string[] {
  try {
    parseConfigText(JSON.stringify(config, null, 2), 'case.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /^case\.yaml: invalid configuration\n/);
    return err.problems;
  }
  return assert.fail('the config was accepted');
}

function assertProblems(problems: readonly string[], expect: RegExp[], text: string): void {
  for (const re of expect)
    assert.ok(
      problems.some((p) => re.test(p)),
      `expected a problem matching ${re}; got:\n${text}`,
    );
}

describe('rest and command tool definitions: each mistake, named by its key path', () => {
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsIn(c.config);
      assertProblems(problems, c.expect, problems.join('\n'));
      // Only that mistake is reported: the rest of the definition is valid.
      assert.equal(problems.length, c.expect.length, `unexpected extra problems:\n${problems.join('\n')}`);
    });
  }
});

describe('mcpeg validate --config on rest and command backends', () => {
  it('every case above, each in its own backend of one file: exit 3, every key path printed', () => {
    // Backend `api` or `run` of case i becomes `c<i>_api` / `c<i>_run`.
    const backends: Record<string, unknown> = {};
    const expect: RegExp[] = [];
    cases.forEach((c, i) => {
      for (const [name, b] of Object.entries(c.config.backends as Record<string, unknown>)) backends[`c${i}_${name}`] = b;
      for (const re of c.expect) expect.push(new RegExp(re.source.replace(/^\^backends\\\.(api|run)\\\./, `^backends\\.c${i}_$1\\.`)));
    });
    assert.ok(
      expect.every((re) => /^\^backends\\\.c\d+_/.test(re.source)),
      'every expectation was renamed',
    );
    const r = validate({ backends });
    assert.equal(r.status, 3, `status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /c\d+\.yaml: invalid configuration\n/);
    const problems = problemsOf(r.stderr);
    assertProblems(problems, expect, r.stderr);
    assert.equal(problems.length, expect.length, r.stderr);
  });

  it('several mistakes in several backends are all listed in one run', () => {
    const r = validate({
      backends: {
        api: { type: 'rest', base_url: 'http://127.0.0.1:9', tools: { a: restTool({ method: 'FETCH' }), b: restTool({ query: { q: '{zz}' } }) } },
        run: { type: 'command', tools: { c: cmdTool({ stdin: '{' }), d: cmdTool({ command: 'git status' }) } },
      },
    });
    assert.equal(r.status, 3);
    const problems = problemsOf(r.stderr);
    for (const re of [
      /^backends\.api\.tools\.a\.method: /,
      /^backends\.api\.tools\.b\.query\.q: \{zz\} is not a property/,
      /^backends\.run\.tools\.c\.stdin: bad template/,
      /^backends\.run\.tools\.d\.command: the program name contains whitespace/,
    ]) {
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re}:\n${r.stderr}`,
      );
    }
  });

  it('a command whose program does not exist (on PATH, or at an absolute path): exit 3, key path named', () => {
    const r = validate({ backends: { run: { type: 'command', tools: { t: { command: 'mcpeg-no-such-program' }, u: { command: join(dir, 'no', 'such') } } } } });
    assert.equal(r.status, 3, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const problems = problemsOf(r.stderr);
    assertProblems(
      problems,
      [/^backends\.run\.tools\.t\.command: .*"mcpeg-no-such-program".*not found on PATH/, /^backends\.run\.tools\.u\.command: .*not found or not executable/],
      r.stderr,
    );
    assert.equal(problems.length, 2, r.stderr);
  });

  it('a valid config with rest and command backends exits 0', () => {
    const r = validate({
      backends: {
        api: {
          type: 'rest',
          base_url: 'https://api.example.com/v1',
          headers: { 'User-Agent': 'mcpeg-test' },
          max_response_bytes: '512KB',
          tools: {
            get_item: restTool({
              query: { q: '{q}', limit: 10, raw: true },
              headers: { 'X-Id': '{id}' },
              response: { pointer: '/data', template: 'Item {/name} ({/id}) {{braces}}' },
            }),
            create_item: restTool({
              method: 'post',
              path: '/items',
              body: { template: { item: { id: '{id}', tags: ['{q}', 'fixed'] } } },
              output_schema: { type: 'object' },
              timeout: '5s',
              retries: 0,
            }),
            put_item: restTool({ method: 'PUT', body: { fields: ['q'] } }),
            raw_item: restTool({ method: 'PATCH', body: { arg: 'q', encoding: 'text' } }),
            list: { method: 'GET', path: '/items' },
          },
        },
        run: {
          type: 'command',
          env_allow: ['PATH'],
          env: { LC_ALL: 'C' },
          max_output_bytes: '64KiB',
          max_concurrency: 2,
          timeout: '10s',
          tools: {
            version: { command: process.execPath, args: ['--version'] },
            echo: cmdTool({
              command: 'printf',
              args: ['%s', '{id}', { if: 'q', then: ['--q={q}', '{{literal}}'] }],
              stdin: 'id={id}\n',
              output: 'json',
              output_schema: schema(),
              cwd: '.',
              env: { X: '1' },
              timeout: 2000,
            }),
          },
        },
      },
    });
    assert.equal(r.status, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stdout, /valid \(2 backend\(s\), 0 plugin\(s\)\)/);
  });
});

describe('parseConfigText on rest and command backends', () => {
  /** Strips the common indentation of a template literal. */
  const yaml = (s: string) => {
    const lines = s.split('\n').filter((l) => l.trim());
    const indent = Math.min(...lines.map((l) => l.length - l.trimStart().length));
    return lines.map((l) => l.slice(indent)).join('\n') + '\n';
  };

  it('throws one ConfigError listing every problem with its key path', () => {
    const text = yaml(`
    backends:
      api:
        type: rest
        base_url: http://127.0.0.1:9
        tools:
          t:
            method: GET
            path: /users/{id}
            body: { fields: [name] }
            response: { pointer: "data" }
      run:
        type: command
        tools:
          t:
            command: ls -la
            args: ["{dir}", "{"]
            output_schema: { type: object }
    `);
    assert.throws(
      () => parseConfigText(text, 'cfg.yaml', {}),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^cfg\.yaml: invalid configuration\n {2}- /);
        const expected = [
          'backends.api.tools.t.path: {id} is not a property of input_schema',
          'backends.api.tools.t.body: a GET request has no body',
          'backends.api.tools.t.body.fields.0: "name" is not a property of input_schema',
          'backends.api.tools.t.response.pointer: expected a JSON pointer such as /data/items; got "data"',
          'backends.run.tools.t.command: the program name contains whitespace: put its arguments in "args" (commands never run through a shell)',
          'backends.run.tools.t.output_schema: output_schema needs output: json',
          'backends.run.tools.t.args.0: {dir} is not a property of input_schema',
        ];
        for (const e of expected) assert.ok(err.problems.includes(e), `missing ${JSON.stringify(e)} in:\n${err.message}`);
        assert.ok(
          err.problems.some((p) => p.startsWith('backends.run.tools.t.args.1: bad template: unclosed "{" at position 1')),
          err.message,
        );
        assert.equal(err.problems.length, expected.length + 1, err.message);
        for (const p of err.problems) assert.ok(err.message.includes(p));
        return true;
      },
    );
  });

  it('accepts a valid definition and fills in the defaults', () => {
    const c = parseConfigText(
      yaml(`
      backends:
        run:
          type: command
          tools:
            t:
              command: "/opt/my tools/bin/x"
              args: ["--n={n}", { if: v, then: ["-v"] }]
              input_schema: { type: object, properties: { n: { type: integer }, v: { type: boolean } } }
        api:
          type: rest
          base_url: http://127.0.0.1:9
          tools:
            t: { method: delete, path: "/x/{id}", input_schema: { type: object, properties: { id: { type: string } }, required: [id] } }
      `),
      'ok.yaml',
      {},
    );
    const run = c.backends.run;
    assert.equal(run.type, 'command');
    if (run.type !== 'command') return;
    assert.deepEqual([...run.env_allow], ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']);
    assert.equal(run.max_output_bytes, 1024 * 1024);
    assert.equal(run.max_concurrency, 4);
    assert.equal(run.tools.t.output, 'text');
    assert.equal(run.tools.t.command, '/opt/my tools/bin/x', 'an absolute path may contain spaces');
    const api = c.backends.api;
    assert.equal(api.type === 'rest' && api.tools.t.method, 'DELETE');
  });

  it('${VAR} expansion happens before the template checks', () => {
    const text = 'backends:\n  run:\n    type: command\n    tools:\n      t:\n        command: ${PROG}\n        args: ["${FLAG}"]\n';
    assert.throws(
      () => parseConfigText(text, 'env.yaml', { PROG: 'my prog', FLAG: '{x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(
          err.problems.some((p) => p.startsWith('backends.run.tools.t.command: the program name contains whitespace')),
          err.message,
        );
        assert.ok(
          err.problems.some((p) => p.startsWith('backends.run.tools.t.args.0: bad template: unclosed')),
          err.message,
        );
        return true;
      },
    );
  });
});
