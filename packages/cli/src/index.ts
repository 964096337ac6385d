export { buildProgram } from './program.js';
export { ExitCode } from './output.js';
