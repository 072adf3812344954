/**
 * The log levels of MCP (logging spec, "Log Levels": the syslog severities of RFC 5424
 * §6.2.1), least severe first. A client names one in logging/setLevel or in a 2026-07-28
 * envelope; anything else is refused (the spec: -32602 for an invalid log level).
 */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const levels = new Set<string>(LOG_LEVELS);
export const isLogLevel = (v: unknown): v is LogLevel => typeof v === 'string' && levels.has(v);
