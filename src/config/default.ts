/**
 * The embedded default configuration: what `mcpeg gateway` runs with no --config. The
 * built-in plugins, on loopback, with no outside services: memory stores under ./data,
 * the editor and git work in ./workspace (created, and made a git repository, on first
 * start), never the whole working directory.
 */
export const DEFAULT_CONFIG_YAML = `
server:
  host: 127.0.0.1
  port: 8080
logging:
  level: info
paths:
  data: ./data
  workspace: ./workspace
plugins:
  - name: memory
  - name: git
  - name: editor
backends: {}
`;
