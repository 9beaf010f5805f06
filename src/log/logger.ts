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

/** Each logger's output stream, for flushLogs(). */
const outputs = new WeakMap<Logger, NodeJS.WritableStream>();

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const json = options.json ?? !(stream === process.stdout && process.stdout.isTTY);
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    // errors() must sit on the logger itself, or a logged Error loses its message and stack.
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      json ? winston.format.json() : winston.format.combine(winston.format.colorize(), textFormat),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
  // winston formats every line (timestamp, JSON) and passes it through its streams before the
  // transport drops the ones below its level: a debug line cost as much CPU as a written one. Child
  // loggers write through this one, so this drops them all first.
  const write = logger.write.bind(logger);
  logger.write = ((info: winston.LogEntry, ...rest: unknown[]) =>
    logger.isLevelEnabled(info.level)
      ? (write as (...a: unknown[]) => boolean)(info, ...rest)
      : true) as typeof logger.write;
  outputs.set(logger, stream);
  return logger;
}

/** Bytes or lines a stream still holds (Node streams count what is not yet handed to the OS). */
function held(s: unknown): number {
  const w = s as { writableLength?: number; readableLength?: number };
  return (w.writableLength ?? 0) + (w.readableLength ?? 0);
}

/**
 * Waits until every line logged so far has left the process: winston hands lines to its transports
 * on later ticks, 16 at a time, and stdout on a pipe is asynchronous, so a `process.exit()` right
 * after a burst of lines loses the tail of it (the last and most telling lines of a shutdown).
 * Resolves true once the logger, its transports and its output stream hold nothing, false after
 * `boundMs` (a reader that stopped reading must not keep the process alive). The logger stays
 * usable: a line logged later is written too, as long as the process lives.
 */
export async function flushLogs(logger: Logger, boundMs = 2_000): Promise<boolean> {
  let root: object | null = logger;
  while (root && !outputs.has(root as Logger)) root = Object.getPrototypeOf(root) as object | null;
  const base = (root ?? logger) as Logger;
  const stream = outputs.get(base);
  const pending = () => held(base) + base.transports.reduce((n, t) => n + held(t), 0) + held(stream);
  const deadline = Date.now() + boundMs;
  while (pending() > 0) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** process.exit(code) once the lines logged so far are out (bounded by `boundMs`). */
export async function exitAfterLogs(logger: Logger, code: number, boundMs = 2_000): Promise<never> {
  await flushLogs(logger, boundMs);
  process.exit(code);
}

/** A logger that drops everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
