/** Where commands write: results to stdout (text or JSON), progress to stderr so `--json` stays parseable. */
export interface Output {
  text(line: string): void;
  json(value: unknown): void;
  progress(line: string): void;
}

/** The process's own streams. */
export const consoleOutput: Output = {
  text: (line) => process.stdout.write(`${line}\n`),
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  progress: (line) => process.stderr.write(`quickmig: ${line}\n`),
};
