import { Command, Option } from 'commander';
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

interface CanaryOptions extends ChangeCommandOptions {
  steps?: number[];
  interval: number;
}

export function canaryCommand(): Command {
  const cmd = new Command('canary')
    .description(
      'Send <percent> of the live traffic of a service to <color> (0 ends the canary, 100 completes it as a switch). ' +
        'With --steps, ramp through the percentages --interval apart and abort back to the old color if a passing ' +
        '<color> instance is lost.',
    )
    .argument('<color>', 'the canary color', parseColor)
    .argument('[percent]', 'share of traffic for <color>, 0-100 (not with --steps)', intParser(0, 100));
  addChangeOptions(addCommonOptions(cmd))
    .addOption(new Option('--steps <list>', 'ramp through these percentages, e.g. 5,25,50,100').argParser(parseSteps))
    .addOption(
      new Option('--interval <duration>', 'time between ramp steps, watching the canary’s health')
        .env('SWITCHYARD_CANARY_INTERVAL')
        .argParser(durationParser(1000, 86_400_000))
        .default(30_000, '30s'),
    );
  return cmd.action(async (color: string, percent: number | undefined, _o: unknown, command: Command) => {
    const o = command.opts<CanaryOptions>();
    if ((percent === undefined) === (o.steps === undefined))
      command.error('error: give either <percent> or --steps, not both and not neither', { exitCode: 2 });
    process.exitCode = await withControl(o, async (control, logger) => {
      const service = await control.resolveService(o.service);
      if (o.steps === undefined) {
        const result = await control.canary(service, color, percent!, changeOptions(o));
        return reportChange(control, logger, result, o);
      }
      // Ctrl-C during a ramp aborts it back to the old color rather than leaving a split running.
      const ac = new AbortController();
      const onSigint = () => {
        logger.warn('interrupted: aborting the canary back to the old color', { service });
        ac.abort();
      };
      process.once('SIGINT', onSigint);
      try {
        const result = await control.ramp(service, color, o.steps, o.interval, changeOptions(o), ac.signal, (r) =>
          process.stdout.write(`${r.message}\n`),
        );
        return o.wait ? reportChange(control, logger, { ...result, message: 'canary ramp complete' }, o) : 0;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
  });
}
