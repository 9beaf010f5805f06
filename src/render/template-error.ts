import { runInNewContext } from 'node:vm';
import { TemplateError, errorMessage } from '../errors.js';
import { cut } from '../log/text.js';

/** A TemplateError that knows where: the template file and, when eta or V8 tells us, the line. */
export class TemplateSourceError extends TemplateError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`template ${file}${line !== undefined ? ` line ${line}` : ''}: ${reason}`, options);
  }
}

/**
 * One line for a log or a CI run: `template FILE line N: reason`. A TemplateError's own message is
 * that line; its cause (eta's error, which can carry the whole compiled function) is left out.
 */
export function templateErrorText(err: unknown): string {
  return err instanceof TemplateError ? err.message.split('\n')[0]! : errorMessage(err);
}

/**
 * Turns an eta error into file + line + a one-line reason. eta reports parse errors ("unclosed tag at
 * line 2") and runtime errors ("line 3 … message") with a line; for JavaScript syntax errors inside
 * `<% %>` it only dumps the generated function, so `compiledSource` (eta's compileToString output) is
 * parsed again by V8 to find the generated line, then mapped back through eta's `__eta.line=N`
 * markers to the template line.
 */
export function describeEtaError(err: unknown, compiledSource?: () => string): { line?: number; reason: string } {
  const message = err instanceof Error ? err.message : String(err);
  const runtime = /^line (\d+)\n[\s\S]*?\n\n([\s\S]+)$/.exec(message);
  if (runtime) return { line: Number(runtime[1]), reason: oneLine(runtime[2]!) };
  const parse = /^(.*?) at line (\d+) col (\d+)/.exec(message);
  if (parse) return { line: Number(parse[2]), reason: `${parse[1]} (column ${parse[3]})` };
  const syntax = /^Bad template syntax\n\n(.*)/.exec(message);
  if (syntax) {
    return { line: compiledSource ? syntaxErrorLine(compiledSource) : undefined, reason: oneLine(syntax[1]!) };
  }
  return { reason: oneLine(message) };
}

function syntaxErrorLine(compiledSource: () => string): number | undefined {
  let source: string;
  try {
    source = compiledSource();
  } catch {
    return undefined;
  }
  try {
    // Parse only: the function is never called, and the context has no globals worth reaching.
    runInNewContext(`(function (it, options) {${source}\n})`, {}, { filename: 'eta-template', timeout: 1000 });
    return undefined;
  } catch (e) {
    // The error comes from another realm (a new vm context): read its stack without instanceof.
    const stack = (e as { stack?: unknown } | null)?.stack;
    const m = /^eta-template:(\d+)/.exec(typeof stack === 'string' ? stack : '');
    if (!m) return undefined;
    const lines = source.split('\n').slice(0, Number(m[1]));
    for (let i = lines.length - 1; i >= 0; i--) {
      const marker = /__eta\.line=(\d+)/.exec(lines[i]!);
      if (marker) return Number(marker[1]);
    }
    return 1;
  }
}

/** The first line only: eta's later lines are its compiled source. */
const oneLine = (s: string): string => cut(s.trim().split('\n')[0]!, 300);
