import type { Snapshot } from '../snapshot/snapshot.js';

/**
 * Turns a snapshot into proxy configuration text. Throws TemplateError when the template fails;
 * the caller keeps serving the last good config.
 */
export interface TemplateRenderer {
  render(snapshot: Snapshot): string;
}
