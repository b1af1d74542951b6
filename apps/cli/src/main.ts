/** Entry point of the `glassdome` command. */
import { runCli } from './program';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
