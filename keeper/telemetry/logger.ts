/**
 * Structured logs with pino: JSON lines by default (for log shippers), `pretty` for a terminal. Each block
 * gets a child logger carrying its number, so every line of a tick can be correlated. Secrets never reach a
 * logger: configuration is logged through `describeConfig`, which leaves them out.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  if (options.pretty) {
    return pino({
      level: options.level,
      transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } },
    });
  }
  return pino({ level: options.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
