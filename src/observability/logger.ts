/**
 * Structured JSON logs on stderr (never stdout: `mcpeg stdio` owns stdout for protocol).
 * Secrets are redacted by key name wherever they appear in a log line, and secret values
 * named in the configuration (auth tokens, API keys, passwords, credential headers) are
 * scrubbed from the text of every line before it is written, wherever they appear.
 */
import type { DestinationStream } from 'pino';
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

export interface LoggerOptions {
  /** Values that must never appear in a log line (scrubbed as [redacted]). */
  secrets?: readonly string[];
}

export function createLogger(level: string, destination: number | string | DestinationStream = 2, opts: LoggerOptions = {}): Logger {
  // Short values would scrub ordinary words; real credentials are longer.
  const secrets = [...new Set(opts.secrets ?? [])].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
  const jsonSafe = secrets.map((s) => JSON.stringify(s).slice(1, -1));
  return pino(
    {
      level,
      base: { name: 'mcpeg' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(secrets.length
        ? {
            hooks: {
              streamWrite(line: string): string {
                let out = line;
                for (const s of jsonSafe) if (out.includes(s)) out = out.split(s).join('[redacted]');
                return out;
              },
            },
          }
        : {}),
    },
    typeof destination === 'object' ? destination : pino.destination({ dest: destination, sync: false }),
  );
}

/** A logger that writes nothing: for embedding and tests that do not look at logs. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
