import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON logs by default (for collectors); `pretty` gives readable lines in a
 * terminal when pino-pretty is installed (the CLI ships it).
 */
export function createLogger(level: LevelWithSilent = 'info', pretty = false): Logger {
  if (pretty) {
    return pino({
      level,
      // One line per event; colours only where pino-pretty sees a colour terminal (and no NO_COLOR).
      transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { service: 'warren' } });
}
