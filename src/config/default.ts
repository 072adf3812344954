/**
 * The embedded default configuration: what `mcpeg gateway` runs with no --config.
 * Loopback only; no outside services needed.
 */
export const DEFAULT_CONFIG_YAML = `
server:
  host: 127.0.0.1
  port: 8080
logging:
  level: info
backends: {}
`;
