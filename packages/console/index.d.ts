/** Absolute path of the folder holding index.html and assets/ (built at `npm run build`). */
export declare const consoleDir: string;
