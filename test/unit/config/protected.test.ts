/** protectedPaths(): what the gateway executes or trusts, from a config, with the reason for each. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { ProtectedMatcher, protectedPaths, REASONS } from '../../../src/config/protected.js';

describe('protectedPaths', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-protected-')));
  const at = (rel: string) => join(dir, rel);
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(at('srv/files'), { recursive: true });
  mkdirSync(at('real'));
  writeFileSync(at('srv/server.js'), '');
  writeFileSync(at('real/mod.mjs'), '');
  symlinkSync(at('real'), at('linked'));

  const config = validateConfig(
    {
      paths: { data: './data', workspace: './ws' },
      plugins: [{ name: 'git' }, { name: 'mine', module: './linked/mod.mjs' }, { name: 'pkg', module: 'some-plugin-package' }],
      backends: {
        stdio: { type: 'mcp', command: 'node', args: ['server.js', './files', 'stdio', '--require=./hook.cjs', '-v'], cwd: at('srv'), env: { PATH: `${at('bin')}:/usr/bin` } },
        reps: { type: 'mcp', replicas: [{ command: './run.sh', cwd: at('srv') }] },
        cmd: {
          type: 'command',
          tools: { t: { command: '/opt/tool', args: ['{x}', { if: 'x', then: ['job.py'] }], input_schema: { type: 'object', properties: { x: { type: 'string' } } } } },
        },
        api: { type: 'openapi', spec: './api.yaml', base_url: 'http://127.0.0.1:9', remote_refs: true },
      },
      admin: { allowed_commands: ['/usr/local/bin/allowed'] },
    },
    'test',
    new Map(),
    dir,
  );
  const list = protectedPaths(config, { configFile: 'mcpeg.yaml', cwd: dir, env: { PATH: '/usr/bin' }, packageRoot: at('pkgroot') });
  const reason = (p: string) => list.find((e) => e.path === p)?.reason;

  it('names the config file, the data directory and plugin modules (as written and by real path)', () => {
    assert.equal(reason(at('mcpeg.yaml')), REASONS.config);
    assert.equal(reason(at('data')), REASONS.data);
    assert.equal(reason(at('linked/mod.mjs')), REASONS.module);
    assert.equal(reason(at('real/mod.mjs')), REASONS.module);
    assert.equal(reason(at('node_modules')), REASONS.packages, 'where a package plugin is looked up');
  });

  it('names programs, on every PATH directory for a bare name, and the files they are given', () => {
    assert.equal(reason(at('bin/node')), REASONS.program);
    assert.equal(reason('/usr/bin/node'), REASONS.program);
    assert.equal(reason('/usr/bin/git'), REASONS.program, 'the git plugin runs git');
    assert.equal(reason(at('srv/run.sh')), REASONS.program);
    assert.equal(reason('/opt/tool'), REASONS.program);
    assert.equal(reason(at('srv/server.js')), REASONS.argument);
    assert.equal(reason(at('srv/hook.cjs')), REASONS.argument, 'a missing script after --opt=');
    assert.equal(reason(at('ws/job.py')), REASONS.argument, 'a command tool runs in the workspace');
    assert.equal(reason(at('srv/files')), undefined, "a directory argument is the program's data");
    assert.equal(reason(at('srv/stdio')), undefined);
    assert.equal(reason('/usr/local/bin/allowed'), REASONS.adminProgram);
  });

  it("names OpenAPI documents and the gateway's own code, not its package directory", () => {
    assert.equal(reason(at('api.yaml')), REASONS.openapi);
    assert.equal(reason(dir), REASONS.openapiRefs);
    assert.equal(reason(at('pkgroot/dist')), REASONS.code);
    assert.equal(reason(at('pkgroot/package.json')), REASONS.code);
    assert.equal(reason(at('pkgroot')), undefined);
    assert.equal(reason(process.execPath) !== undefined, true);
  });

  it("names the CLI's state files (PID file, the restart argv beside it, the log file)", () => {
    const withState = protectedPaths(config, { cwd: dir, env: { PATH: '/usr/bin' }, packageRoot: at('pkgroot'), stateFiles: ['run/mcpeg.pid', 'run/mcpeg.pid.json', 'mcpeg.log'] });
    for (const f of ['run/mcpeg.pid', 'run/mcpeg.pid.json', 'mcpeg.log']) assert.equal(withState.find((e) => e.path === at(f))?.reason, REASONS.state, f);
  });

  it("names what a Kubernetes source's kubeconfig names: certificate, key and token files, credential programs", () => {
    mkdirSync(at('kube'), { recursive: true });
    writeFileSync(
      at('kube/config.yaml'),
      JSON.stringify({
        clusters: [
          { name: 'c', cluster: { server: 'https://k', 'certificate-authority': 'ca.crt' } },
          { name: 'odd', cluster: { 'certificate-authority': 7 } },
        ],
        users: [
          { name: 'a', user: { 'client-certificate': '/etc/k/cert.pem', 'client-key': 'keys/client.key', 'token-file': 'tok' } },
          { name: 'b', user: { exec: { command: './get-token.sh', args: ['--json', 'helper.py'] } } },
          { name: 'c', user: { exec: { command: 'aws', args: [] } } },
          { name: 'd', user: { 'auth-provider': { name: 'gcp', config: { 'cmd-path': '/opt/gcloud', tokenFile: '/etc/k/provider-token' } } } },
          // Review 23: cmd-args go through a shell; an exec env's PATH is where a bare command is found.
          { name: 'e', user: { 'auth-provider': { name: 'azure', config: { 'cmd-path': '/bin/sh', 'cmd-args': `--x "refresh.sh" '/etc/k/b c.py'` } } } },
          {
            name: 'f',
            user: {
              exec: {
                command: 'kubelogin',
                env: [
                  { name: 'PATH', value: '/nope' },
                  { name: 'PATH', value: '/opt/kbin' },
                ],
              },
            },
          },
        ],
      }),
    );
    const kube = (discovery: Record<string, unknown>, env: NodeJS.ProcessEnv) =>
      protectedPaths(validateConfig({ backends: { k: { type: 'mcp', discovery: { kubernetes: { service: 's', ...discovery } } } } }, 'test', new Map(), dir), {
        cwd: at('cwd'),
        env,
        packageRoot: at('pkgroot'),
      });
    const named = kube({ kubeconfig: './kube/config.yaml' }, { PATH: '/usr/bin' });
    const why = (p: string) => named.find((e) => e.path === p)?.reason;
    assert.equal(why(at('kube/config.yaml')), REASONS.kubeconfig);
    // Relative names both ways the client may take them: the kubeconfig's directory and the working directory.
    for (const f of ['kube/ca.crt', 'cwd/ca.crt', 'kube/keys/client.key', 'cwd/keys/client.key', 'kube/tok', 'cwd/tok']) assert.equal(why(at(f)), REASONS.kubeconfigFile, f);
    assert.equal(why('/etc/k/cert.pem'), REASONS.kubeconfigFile);
    assert.equal(why('/etc/k/provider-token'), REASONS.kubeconfigFile);
    assert.equal(why(at('kube/get-token.sh')), REASONS.program);
    assert.equal(why(at('kube/helper.py')), REASONS.argument, 'a script the credential program is given');
    assert.equal(why('/usr/bin/aws'), REASONS.program, 'a bare name on every PATH directory');
    assert.equal(why('/opt/gcloud'), REASONS.program);
    assert.equal(why(at('cwd/refresh.sh')), REASONS.argument, "a script cmd-args names (the shell's words, unquoted)");
    assert.equal(why('/etc/k/b c.py'), REASONS.argument);
    assert.equal(why('/opt/kbin/kubelogin'), REASONS.program, "found on the exec env's PATH (the last one set)");
    assert.equal(why('/usr/bin/kubelogin'), undefined);
    assert.equal(why('/var/run/secrets/kubernetes.io/serviceaccount'), undefined, 'a named kubeconfig: not the in-cluster credentials');
    // Without one: $KUBECONFIG's files and what they name, and the in-cluster service account's directory.
    const usual = kube({}, { PATH: '/usr/bin', KUBECONFIG: at('kube/config.yaml') });
    assert.equal(usual.find((e) => e.path === at('kube/keys/client.key'))?.reason, REASONS.kubeconfigFile);
    assert.equal(usual.find((e) => e.path === '/var/run/secrets/kubernetes.io/serviceaccount')?.reason, REASONS.serviceAccount);
    // A kubeconfig that is not there, or not YAML, names nothing (and does not fail the list).
    writeFileSync(at('kube/broken.yaml'), 'users: [unclosed');
    assert.equal(kube({ kubeconfig: './kube/broken.yaml' }, {}).find((e) => e.path === at('kube/broken.yaml'))?.reason, REASONS.kubeconfig);
    assert.ok(kube({ kubeconfig: './kube/missing.yaml' }, {}).length > 0);
  });

  it("names the files a backend's env values name (NODE_OPTIONS=--require, BASH_ENV), not PATH's directories", () => {
    const c = validateConfig(
      {
        backends: {
          m: { type: 'mcp', command: 'node', args: ['s.js'], cwd: at('srv'), env: { NODE_OPTIONS: '--require ./hook.cjs --max-old-space-size=512', PATH: at('pathdir') } },
          c: {
            type: 'command',
            env: { BASH_ENV: at('ws/env.sh') },
            tools: { t: { command: '/bin/true', env: { PYTHONSTARTUP: 'start.py' }, input_schema: { type: 'object' } } },
          },
        },
      },
      'test',
      new Map(),
      dir,
    );
    const l = protectedPaths(c, { cwd: dir, env: { PATH: '/usr/bin' }, packageRoot: at('pkgroot') });
    const why = (p: string) => l.find((e) => e.path === p)?.reason;
    assert.equal(why(at('srv/hook.cjs')), REASONS.argument, "a missing script NODE_OPTIONS requires, against the backend's cwd");
    assert.equal(why(at('ws/env.sh')), REASONS.argument);
    assert.equal(why(join(c.paths.workspace, 'start.py')), REASONS.argument, "a tool's env, against its working directory (the workspace)");
    assert.equal(why(at('pathdir')), undefined, "PATH's directories are where programs are looked up, not files");
  });

  it('ProtectedMatcher matches whole path segments', () => {
    const l = [{ path: '/a/data', reason: 'd' }];
    const m = new ProtectedMatcher(l);
    assert.equal(m.covering('/a/data/x')?.reason, 'd');
    assert.equal(m.covering('/a/data'), l[0]);
    assert.equal(m.covering('/a/database'), undefined);
    assert.equal(m.inside('/a'), l[0]);
    assert.equal(m.inside('/'), l[0]);
    assert.equal(m.inside('/a/data'), undefined);
    assert.equal(m.inside('/a/dat'), undefined);
    assert.equal(m.covering('/a/DATA/x')?.reason, 'd', 'a case-insensitive filesystem has one file for both');
  });
});
