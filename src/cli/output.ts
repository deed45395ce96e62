/** Where commands write: results to stdout (text or JSON), progress to stderr so `--json` stays parseable. */
export interface Output {
  text(line: string): void;
  json(value: unknown): void;
  progress(line: string): void;
  /**
   * A transient status line on stderr: rewritten in place on a terminal, printed as a line otherwise
   * (logs and tests see every update). The next `progress` or `text` line keeps it.
   */
  live(line: string): void;
  /** True when stderr is a terminal (live lines are rewritten, colours and prompts make sense). */
  readonly interactive: boolean;
}

/** Output over the process's streams; `interactive` defaults to whether stderr is a terminal. */
export function streamOutput(
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
): Output {
  const interactive = stderr.isTTY === true;
  let liveShown = false;
  const endLive = () => {
    if (liveShown) stderr.write('\n');
    liveShown = false;
  };
  return {
    interactive,
    text: (line) => {
      endLive();
      stdout.write(`${line}\n`);
    },
    json: (value) => {
      endLive();
      stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    progress: (line) => {
      endLive();
      stderr.write(`quickmig: ${line}\n`);
    },
    live: (line) => {
      if (!interactive) {
        stderr.write(`${line}\n`);
        return;
      }
      stderr.write(`\r\x1b[2K${line}`);
      liveShown = true;
    },
  };
}

/** The process's own streams. */
export const consoleOutput: Output = streamOutput();
