// `pnpm signals …`: the operator's CLI.
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
