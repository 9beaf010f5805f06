import { Command } from 'commander';
import { addCommonOptions } from '../common-options.js';
import {
  addChangeOptions,
  changeOptions,
  reportChange,
  withControl,
  type ChangeCommandOptions,
} from './control-common.js';

export function rollbackCommand(): Command {
  const cmd = new Command('rollback').description(
    'Undo the last change: make the previous live color live again (gated like switch), or, during a canary, ' +
      'send all traffic back to the live color.',
  );
  addChangeOptions(addCommonOptions(cmd));
  return cmd.action(async (_o: unknown, command: Command) => {
    const o = command.opts<ChangeCommandOptions>();
    process.exitCode = await withControl(o, async (control, logger) => {
      const service = await control.resolveService(o.service);
      const result = await control.rollback(service, changeOptions(o));
      return reportChange(control, logger, result, o);
    });
  });
}
