/** Where commands write: results to stdout (text or JSON), progress to stderr so `--json` stays parseable. */
import { stripVTControlCharacters } from 'node:util';

/** What a command writes to. */
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

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Columns a grapheme takes in a terminal: 0 for marks and zero-width, 2 for wide (CJK, emoji), else 1. */
function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0) ?? 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (/^[\p{Mn}\p{Me}\p{Cf}]+$/u.test(g)) return 0;
  if (/\p{Extended_Pictographic}/u.test(g) && (g.includes('\uFE0F') || cp >= 0x1f000)) return 2;
  // East Asian Wide and Fullwidth ranges (Unicode 15): Hangul Jamo, CJK, Hangul, compatibility, fullwidth forms.
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** The columns `text` takes in a terminal (escape sequences take none). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(stripVTControlCharacters(text)))
    width += graphemeWidth(segment);
  return width;
}

/**
 * `line` cut to at most `columns` terminal columns, ending in `…` when cut. Escape sequences are
 * dropped from a cut line (a colour cut in half would bleed into the next line).
 */
export function fitToWidth(line: string, columns: number): string {
  if (displayWidth(line) <= columns) return line;
  let out = '';
  let width = 0;
  for (const { segment } of segmenter.segment(stripVTControlCharacters(line))) {
    const w = graphemeWidth(segment);
    if (width + w > columns - 1) break;
    out += segment;
    width += w;
  }
  return `${out}…`;
}

/**
 * JSON times as ISO 8601: Dates are already; a field named `...At` that holds epoch milliseconds (the
 * workflows' `sourceStoppedAt`, a batch entry's `startedAt`) is written the same way.
 */
function isoTimes(key: string, value: unknown): unknown {
  return key.endsWith('At') && typeof value === 'number' && Number.isFinite(value)
    ? new Date(value).toISOString()
    : value;
}

/** Output over the process's streams; `interactive` defaults to whether stderr is a terminal. */
export function streamOutput(
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr,
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
      stdout.write(`${JSON.stringify(value, isoTimes, 2)}\n`);
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
      // A line wider than the terminal wraps, and `\r` then returns only to its last row: the rows above
      // would stay as stale copies. So the live line is one row, cut to the width read at each redraw
      // (the terminal may have been resized); the last column stays free so the cursor never wraps.
      const columns = stderr.columns && stderr.columns > 1 ? stderr.columns : 80;
      stderr.write(`\r\x1b[2K${fitToWidth(line.split('\n')[0] ?? '', columns - 1)}`);
      liveShown = true;
    },
  };
}

/** The process's own streams. */
export const consoleOutput: Output = streamOutput();
