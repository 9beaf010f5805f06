/**
 * Typed errors. Each carries the underlying `cause` so a log line can say what failed and why
 * without losing the original stack.
 */
export class SwitchyardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value (flag, env var, file) is invalid. The CLI turns it into exit code 2. */
export class ConfigError extends SwitchyardError {}

/** A container label or env value cannot become a service definition. */
export class LabelError extends SwitchyardError {
  constructor(
    readonly label: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Consul answered with an error or could not be reached. */
export class ConsulError extends SwitchyardError {
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Consul refused the request's ACL token: it lacks a permission (the message names the operation
 * and the resource) or Consul does not know it (unknown, deleted or expired).
 */
export class ConsulAclError extends ConsulError {}

/** The TLS connection to Consul failed: an untrusted or mismatched server certificate, or a client certificate Consul refused. */
export class ConsulTlsError extends ConsulError {}

/** The Docker Engine answered with an error or could not be reached. */
export class DockerError extends SwitchyardError {
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A template failed to compile or render. */
export class TemplateError extends SwitchyardError {}

/** The proxy's own checker rejected a candidate configuration. */
export class CheckerError extends SwitchyardError {
  constructor(
    message: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Reloading or reconfiguring the proxy failed. */
export class ReloadError extends SwitchyardError {}

/** HAProxy's admin socket (Runtime API) could not be reached, did not answer, or answered something unreadable. */
export class ProxySocketError extends SwitchyardError {}

/** A switch, rollback or canary was refused (for example: too few passing instances). */
export class SwitchRefusedError extends SwitchyardError {}

/** Something was called after close(). */
export class ClosedError extends SwitchyardError {}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause && !err.message.includes(cause.slice(2)) ? cause : ''}`;
  }
  return String(err);
}

/** A KV write lost a check-and-set race: someone else changed the state first; nothing was written. */
export class StateConflictError extends SwitchyardError {}
