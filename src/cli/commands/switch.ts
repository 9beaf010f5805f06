import { Command } from 'commander';
import { addCommonOptions } from '../common-options.js';
import {
  addChangeOptions,
  changeOptions,
  parseColor,
  reportChange,
  withControl,
  type ChangeCommandOptions,
} from './control-common.js';

export function switchCommand(): Command {
  const cmd = new Command('switch')
    .description(
      'Make <color> the live color of a service: its instances take the main port, the old live color becomes idle. ' +
        'Refused when <color> has fewer passing instances than --min-passing.',
    )
    .argument('<color>', 'the color to make live, e.g. green', parseColor);
  addChangeOptions(addCommonOptions(cmd));
  return cmd.action(async (color: string, _o: unknown, command: Command) => {
    const o = command.opts<ChangeCommandOptions>();
    process.exitCode = await withControl(o, async (control, logger) => {
      const service = await control.resolveService(o.service);
      const result = await control.switchTo(service, color, changeOptions(o));
      return reportChange(control, logger, result, o);
    });
  });
}
