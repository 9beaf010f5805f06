import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_GATE } from '../../rollout/plan.js';
import { RolloutControl } from '../../rollout/rollout-control.js';
import { durationParser, intParser, parseSteps } from '../values.js';
import { addCommonOptions } from '../common-options.js';
import {
  addChangeOptions,
  changeOptions,
  parseColor,
  reportChange,
  withControl,
  type ChangeCommandOptions,
} from './control-common.js';
import { followRollout } from './rollout.js';

interface CanaryOptions extends ChangeCommandOptions {
  steps?: number[];
  interval: number;
  successRate: number;
  maxLatency: number;
  maxFailures: number;
  minRequests: number;
  maxSuccessDrop?: number;
  sticky: boolean;
  follow: boolean;
  colors: string[];
}

function percentParser(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!/^\d+(\.\d+)?%?$/.test(value) || n < 0 || n > 100)
    throw new InvalidArgumentError(`expected a percentage from 0 to 100 such as 99 or 99.5, got "${value}"`);
  return n;
}

export function canaryCommand(): Command {
  const cmd = new Command('canary')
    .description(
      'Send <percent> of the live traffic of a service to <color> (0 ends the canary, 100 completes it as a switch). ' +
        'With --steps, write a rollout plan that the daemons run (docs/rollouts.md): one of them steps through the ' +
        'percentages --interval apart, checking the canary’s success rate and latency at the proxies, and aborts ' +
        'back to the stable color after --max-failures failing checks in a row. The command returns at once; ' +
        '--follow streams the rollout until it ends.',
    )
    .argument('<color>', 'the canary color', parseColor)
    .argument('[percent]', 'share of traffic for <color>, 0-100 (not with --steps)', intParser(0, 100));
  addChangeOptions(addCommonOptions(cmd))
    .addOption(
      new Option('--steps <list>', 'roll out through these percentages, e.g. 5,25,50,100').argParser(parseSteps),
    )
    .addOption(
      new Option('--interval <duration>', 'time between gate checks (and steps) of a rollout')
        .env('SWITCHYARD_CANARY_INTERVAL')
        .argParser(durationParser(1000, 86_400_000))
        .default(60_000, '1m'),
    )
    .addOption(
      new Option('--success-rate <percent>', 'gate: lowest share of non-5xx answers from the canary')
        .env('SWITCHYARD_GATE_SUCCESS_RATE')
        .argParser(percentParser)
        .default(DEFAULT_GATE.minSuccessRate),
    )
    .addOption(
      new Option(
        '--max-latency <duration>',
        'gate: highest p99 (nginx) or average (HAProxy) response time of the canary',
      )
        .env('SWITCHYARD_GATE_MAX_LATENCY')
        .argParser(durationParser(1, 600_000))
        .default(DEFAULT_GATE.maxLatencyMs, '500ms'),
    )
    .addOption(
      new Option('--max-failures <n>', 'gate: failing checks in a row that abort the rollout')
        .env('SWITCHYARD_GATE_MAX_FAILURES')
        .argParser(intParser(1, 1000))
        .default(DEFAULT_GATE.maxFailures),
    )
    .addOption(
      new Option('--min-requests <n>', 'gate: fewest canary requests a check needs; with fewer the step waits')
        .env('SWITCHYARD_GATE_MIN_REQUESTS')
        .argParser(intParser(1, 1_000_000))
        .default(DEFAULT_GATE.minRequests),
    )
    .addOption(
      new Option(
        '--max-success-drop <points>',
        'gate against the stable color: the canary’s success rate may be at most this many points below the stable color’s in the same window (default: off)',
      )
        .env('SWITCHYARD_GATE_MAX_SUCCESS_DROP')
        .argParser(percentParser),
    )
    .addOption(new Option('--no-sticky', 'do not give clients sent to the canary the color cookie'))
    .addOption(
      new Option(
        '--follow',
        'stream the rollout until it ends; the exit code says how (0 completed or promoted, 1 aborted)',
      ).default(false),
    );
  return cmd.action(async (color: string, percent: number | undefined, _o: unknown, command: Command) => {
    const o = command.opts<CanaryOptions>();
    if ((percent === undefined) === (o.steps === undefined))
      command.error('error: give either <percent> or --steps, not both and not neither', { exitCode: 2 });
    if (o.steps === undefined && o.follow) command.error('error: --follow needs --steps', { exitCode: 2 });
    process.exitCode = await withControl(o, async (control, logger) => {
      const service = await control.resolveService(o.service);
      if (o.steps === undefined) {
        const result = await control.canary(service, color, percent!, changeOptions(o));
        return reportChange(control, logger, result, o);
      }
      const rollouts = new RolloutControl(control.consulClient, o.kvPrefix, o.colors);
      const plan = await rollouts.start({
        service,
        color,
        steps: o.steps,
        intervalMs: o.interval,
        gate: {
          minSuccessRate: o.successRate,
          maxLatencyMs: o.maxLatency,
          maxFailures: o.maxFailures,
          minRequests: o.minRequests,
          ...(o.maxSuccessDrop !== undefined ? { maxSuccessDrop: o.maxSuccessDrop } : {}),
        },
        sticky: o.sticky,
        minPassing: o.minPassing,
        force: o.force,
        by: o.by,
        ...(o.reason ? { reason: o.reason } : {}),
      });
      process.stdout.write(
        `${service}: rollout of ${color} written (steps ${plan.steps.join(',')}% every ${o.interval / 1000}s, stable ${plan.stable}); a switchyard daemon runs it — follow it with "switchyard rollout status --follow"\n`,
      );
      return o.follow ? followRollout(rollouts, service) : 0;
    });
  });
}
