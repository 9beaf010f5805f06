/** The integration tests' path to the CLI runner; its home is test/helpers/cli.ts (built with bench). */
export { CLI, requireBuiltCli, switchyard, type CliResult } from '../../helpers/cli.js';
