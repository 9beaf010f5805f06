import { Command, Option } from 'commander';
import { isActive, type RolloutPlan } from '../../rollout/plan.js';
import { describePlan, RolloutControl } from '../../rollout/rollout-control.js';
import { addCommonOptions, type CommonOptions } from '../common-options.js';
import { addServiceOption, defaultBy, withControl } from './control-common.js';

/** `switchyard rollout status | pause | resume | promote | abort`: see docs/rollouts.md. */
interface RolloutOptions extends CommonOptions {
  service?: string;
  colors: string[];
  by: string;
  reason?: string;
  json?: boolean;
  follow?: boolean;
}

/** Streams a rollout until it ends; 0 when it completed or was promoted, 1 when it was aborted or interrupted. */
export async function followRollout(rollouts: RolloutControl, service: string): Promise<number> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  let seenChecks = 0;
  let lastLine = '';
  try {
    const last = await rollouts.follow(
      service,
      (plan: RolloutPlan) => {
        for (const c of plan.checks.slice(seenChecks))
          process.stdout.write(`${c.at} check at ${c.percent}%: ${c.verdict} — ${c.why}\n`);
        seenChecks = plan.checks.length;
        const line = describePlan(plan);
        if (line !== lastLine) process.stdout.write(`${plan.updatedAt} ${line}\n`);
        lastLine = line;
      },
      ac.signal,
      (m) => process.stderr.write(`cannot read the rollout: ${m}; retrying\n`),
    );
    if (!last || isActive(last.phase)) {
      process.stdout.write('interrupted; the rollout goes on in the daemon\n');
      return 1;
    }
    return last.phase === 'aborted' ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function subcommand(name: string, description: string): Command {
  const cmd = new Command(name).description(description);
  addServiceOption(addCommonOptions(cmd));
  return cmd;
}

function requestCommand(action: 'pause' | 'resume' | 'promote' | 'abort', description: string): Command {
  const cmd = subcommand(action, description)
    .addOption(new Option('--reason <text>', 'why, recorded in the history'))
    .addOption(
      new Option('--by <who>', 'who, recorded in the history')
        .env('SWITCHYARD_BY')
        .default(defaultBy(), '$USER@hostname'),
    )
    .addOption(new Option('--follow', 'stream the rollout until it ends').default(false));
  return cmd.action(async (_o: unknown, command: Command) => {
    const o = command.opts<RolloutOptions>();
    process.exitCode = await withControl(o, async (control) => {
      const service = await control.resolveService(o.service);
      const rollouts = new RolloutControl(control.consulClient, o.kvPrefix, o.colors);
      const plan = await rollouts.request(service, action, o.by, o.reason);
      process.stdout.write(
        `${service}: ${action} of the rollout of ${plan.color} requested; the daemon executing it carries it out\n`,
      );
      return o.follow ? followRollout(rollouts, service) : 0;
    });
  });
}

export function rolloutCommand(): Command {
  const status = subcommand('status', 'Show the rollout of a service: phase, step, weights, gate checks')
    .addOption(new Option('--json', 'print the plan as JSON').default(false))
    .addOption(
      new Option('--follow', 'stream it until it ends (exit 0 completed or promoted, 1 aborted)').default(false),
    )
    .action(async (_o: unknown, command: Command) => {
      const o = command.opts<RolloutOptions>();
      process.exitCode = await withControl(o, async (control) => {
        const service = await control.resolveService(o.service);
        const rollouts = new RolloutControl(control.consulClient, o.kvPrefix, o.colors);
        if (o.follow) return followRollout(rollouts, service);
        const { plan, invalid } = await rollouts.store.read(service);
        if (invalid) process.stderr.write(`${invalid}\n`);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ service, rollout: plan ?? null }, null, 2)}\n`);
          return 0;
        }
        if (!plan) {
          process.stdout.write(`${service}: no rollout\n`);
          return 0;
        }
        process.stdout.write(`${describePlan(plan)}\n`);
        for (const c of plan.checks.slice(-5))
          process.stdout.write(`  ${c.at} check at ${c.percent}%: ${c.verdict} — ${c.why}\n`);
        return 0;
      });
    });
  return new Command('rollout')
    .description('Watch and steer a rollout the daemons run (started with "switchyard canary <color> --steps")')
    .addCommand(status)
    .addCommand(requestCommand('pause', 'Hold the rollout at its current step (no checks, weights unchanged)'))
    .addCommand(requestCommand('resume', 'Continue a paused rollout; the next check is one interval away'))
    .addCommand(
      requestCommand('promote', 'End the rollout now with the canary color live (gated on its passing instances)'),
    )
    .addCommand(requestCommand('abort', 'End the rollout now with all traffic back on the stable color'));
}
