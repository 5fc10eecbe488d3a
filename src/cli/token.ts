// npm run token -- --sub alice --scope "predict admin" [--expires-in 3600] [--secret S | --key-file private.pem]
// The same as `ortserve token` (token-command.ts), kept for the npm script.
import { CliError, UsageError } from './common.js';
import { mintFromArgs, tokenHelp } from './token-command.js';

const PROGRAM = 'npm run token --';

function main(): number {
  try {
    const token = mintFromArgs(process.argv.slice(2), process.env);
    process.stdout.write(token === undefined ? tokenHelp(PROGRAM) : `${token}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`${err.message}\n${err instanceof UsageError ? tokenHelp(PROGRAM) : ''}`);
    return err.exitCode;
  }
}

process.exitCode = main();
