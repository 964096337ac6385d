// @warren/console: the web management console's static files, for the broker to serve.
import { fileURLToPath } from 'node:url';

/** Absolute path of the folder holding index.html and assets/ (built at `npm run build`). */
export const consoleDir = fileURLToPath(new URL('./dist/', import.meta.url));
