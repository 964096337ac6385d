#!/usr/bin/env node
import { buildProgram } from './program.js';
import { runMain } from './output.js';

await runMain(() => buildProgram().parseAsync(process.argv));
