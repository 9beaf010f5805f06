import { Command, Option } from 'commander';
import { sleep } from '../../time/sleep.js';
import { readOverview, type Overview } from '../../rollout/overview.js';
import { describePlan } from '../../rollout/rollout-control.js';
import { describeEntry, formatStatus } from '../../switch/status-format.js';
import { addCommonOptions, type CommonOptions } from '../common-options.js';
import { addServiceOption, withControl } from './control-common.js';

interface StatusOptions extends CommonOptions {
  service?: string;
  json: boolean;
  watch: boolean;
}

/** The rollout and recent history lines `status --watch` adds under each service. */
function watchExtras(o: Overview, now: Date): string {
  const out: string[] = [];
  for (const s of o.services) {
    if (s.rollout) {
      out.push(describePlan(s.rollout));
      for (const c of s.rollout.checks.slice(-5)) out.push(`  ${c.at} check at ${c.percent}%: ${c.verdict} — ${c.why}`);
    }
    if (s.history.length)
      out.push(`${s.service} history:`, ...s.history.slice(0, 5).map((e) => `  ${describeEntry(e, now)}`));
  }
  return out.length ? `\n${out.join('\n')}\n` : '';
}

export function statusCommand(): Command {
  const cmd = new Command('status').description(
    'Show each service’s live and idle color, its instances per color with their health, canary weights, ' +
      'the last change, and what each render host serves.',
  );
  addServiceOption(addCommonOptions(cmd))
    .addOption(new Option('--json', 'print JSON instead of a table').default(false))
    .addOption(
      new Option(
        '--watch',
        'redraw every second with the rollout, its last checks and recent history (what the daemon’s page shows); Ctrl-C ends',
      ).default(false),
    );
  return cmd.action(async (_o: unknown, command: Command) => {
    const o = command.opts<StatusOptions>();
    if (o.watch && o.json) command.error('error: --watch and --json do not go together', { exitCode: 2 });
    await withControl(o, async (control) => {
      if (o.watch) {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        try {
          while (!ac.signal.aborted) {
            const now = new Date();
            let text: string;
            try {
              const ov = await readOverview(control, o.kvPrefix, 15, o.service);
              text = formatStatus(ov.services, now) + watchExtras(ov, now);
            } catch (err) {
              text = `cannot read Consul: ${(err as Error).message}\n`;
            }
            // Clear the screen and home the cursor, then draw the whole view at once.
            process.stdout.write(`\x1b[2J\x1b[H${now.toISOString()}\n${text}`);
            await sleep(1000, ac.signal);
          }
        } finally {
          process.off('SIGINT', stop);
        }
        return;
      }
      const statuses = await control.status(o.service);
      process.stdout.write(
        o.json ? `${JSON.stringify({ services: statuses }, null, 2)}\n` : formatStatus(statuses, new Date()),
      );
    });
  });
}
