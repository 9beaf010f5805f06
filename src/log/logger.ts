import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Fields every line about a container carries, so `docker compose logs` can be grepped by name or id. */
export interface ContainerRef {
  id: string;
  name: string;
}

export function containerFields(c: ContainerRef): { container: string; containerId: string } {
  return { container: c.name.replace(/^\//, ''), containerId: c.id.slice(0, 12) };
}

export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: LogLevel;
  /** Force JSON (true) or text (false); by default JSON unless stdout is a TTY. */
  json?: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

const textFormat = winston.format.printf((info) => {
  const { level, message, timestamp, component, stack, ...rest } = info;
  const extras = Object.entries(rest)
    .filter(([k]) => typeof k === 'string')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const where = component ? `[${String(component)}] ` : '';
  const tail = stack && level.includes('error') ? `\n${String(stack)}` : '';
  return `${String(timestamp)} ${level} ${where}${String(message)}${extras ? ' ' + extras : ''}${tail}`;
});

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const json = options.json ?? !(stream === process.stdout && process.stdout.isTTY);
  return winston.createLogger({
    level: options.level ?? 'info',
    // errors() must sit on the logger itself, or a logged Error loses its message and stack.
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      json ? winston.format.json() : winston.format.combine(winston.format.colorize(), textFormat),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that drops everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
