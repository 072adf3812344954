/**
 * Review of issue #14 item 3 (secrets out of the admin API), as an attacker with a viewer
 * key: credentials written in forms the classifier (config/secret-fields.ts) did not know
 * were shown by GET /admin/config in clear (and, since the log scrubber uses the same
 * classifier, written to logs too):
 * - program arguments `NAME=value` (docker `-e GITHUB_PERSONAL_ACCESS_TOKEN=ghp_…`,
 *   `--env=API_KEY=…`, `git -c http.extraHeader=Authorization: Bearer …`) and
 *   `--header=Authorization: Bearer …`;
 * - a REST tool's literal query parameter `key` (`?key=` is how several APIs take theirs,
 *   and was hidden in a URL but not in the tool's `query` map).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAdminGateway, VIEWER_KEY, type AdminGateway } from '../helpers/admin.js';

const S = {
  dockerEnv: 'ghp_REVIEWdockerEnv0000000001',
  envFlag: 'sk-REVIEWenvFlag0000000002',
  headerFlag: 'REVIEWheaderFlag0000000003',
  gitHeader: 'REVIEWgitExtraHeader000004',
  queryKey: 'AIzaREVIEWqueryKey00000005',
};

describe('review: GET /admin/config hides credentials in argument assignments and REST query maps', () => {
  let g: AdminGateway;
  before(async () => {
    g = await startAdminGateway({
      backends: {
        github: {
          type: 'mcp',
          enabled: false,
          command: 'docker',
          args: ['run', '-i', '--rm', '-e', `GITHUB_PERSONAL_ACCESS_TOKEN=${S.dockerEnv}`, `--env=OPENAI_API_KEY=${S.envFlag}`, 'ghcr.io/github/github-mcp-server'],
        },
        remote: { type: 'mcp', enabled: false, command: 'npx', args: ['mcp-remote', 'https://mcp.example.com/sse', `--header=Authorization: Bearer ${S.headerFlag}`] },
        clone: { type: 'mcp', enabled: false, command: 'git', args: ['-c', `http.extraHeader=Authorization: Bearer ${S.gitHeader}`, 'clone', 'https://git.example.com/x'] },
        maps: {
          type: 'rest',
          enabled: false,
          base_url: 'https://maps.example.com',
          tools: {
            geocode: {
              method: 'GET',
              path: '/geocode',
              query: { key: S.queryKey, address: '{address}' },
              input_schema: { type: 'object', properties: { address: { type: 'string' } } },
            },
          },
        },
      },
    });
  });
  after(() => g?.close());

  for (const [form, secret] of Object.entries(S)) {
    it(`a viewer does not see the ${form} secret`, async () => {
      const r = await g.admin('GET', '/admin/config', undefined, { key: VIEWER_KEY });
      assert.equal(r.status, 200);
      assert.ok(!r.text.includes(secret), `GET /admin/config shows ${secret}`);
      const services = await Promise.all(['github', 'remote', 'clone', 'maps'].map((n) => g.admin('GET', `/admin/services/${n}`, undefined, { key: VIEWER_KEY })));
      for (const s of services) assert.ok(!s.text.includes(secret), `GET /admin/services shows ${secret}`);
    });
  }

  it('what GET showed can be PUT back as it is: every hidden value is restored', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    const r = await g.admin('PUT', '/admin/config', cfg);
    assert.equal(r.status, 200, r.text);
    const args = g.gw.config.backends.github.type === 'mcp' ? g.gw.config.backends.github.args : [];
    assert.ok(args.includes(`GITHUB_PERSONAL_ACCESS_TOKEN=${S.dockerEnv}`));
  });
});
