import { Command, Option } from 'commander';
import { formatStatus } from '../../switch/status-format.js';
import { addCommonOptions, type CommonOptions } from '../common-options.js';
import { addServiceOption, withControl } from './control-common.js';

interface StatusOptions extends CommonOptions {
  service?: string;
  json: boolean;
}

export function statusCommand(): Command {
  const cmd = new Command('status').description(
    'Show each service’s live and idle color, its instances per color with their health, canary weights, ' +
      'the last change, and what each render host serves.',
  );
  addServiceOption(addCommonOptions(cmd)).addOption(
    new Option('--json', 'print JSON instead of a table').default(false),
  );
  return cmd.action(async (_o: unknown, command: Command) => {
    const o = command.opts<StatusOptions>();
    await withControl(o, async (control) => {
      const statuses = await control.status(o.service);
      process.stdout.write(
        o.json ? `${JSON.stringify({ services: statuses }, null, 2)}\n` : formatStatus(statuses, new Date()),
      );
    });
  });
}
