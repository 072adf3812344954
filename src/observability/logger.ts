/**
 * Structured JSON logs on stderr (never stdout: `mcpeg stdio` owns stdout for protocol).
 * Secrets are redacted by key name wherever they appear in a log line.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization', '*.authorization', '*.*.authorization',
  'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie',
  'token', '*.token', 'apiKey', '*.apiKey', 'api_key', '*.api_key', 'password', '*.password', 'secret', '*.secret',
];

export function createLogger(level: string, destination: number | string = 2): Logger {
  return pino(
    {
      level,
      base: { name: 'mcpeg' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: destination, sync: false }),
  );
}

/** A logger that writes nothing: for embedding and tests that do not look at logs. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
