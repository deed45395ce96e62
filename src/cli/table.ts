/**
 * Tables for the operator's commands (`inventory`, `endpoints`, `plan`): aligned text for a terminal,
 * CSV for a spreadsheet and Markdown for a change request. Pure functions of their rows.
 */
import { CliError, ExitCode } from './errors';

/** How a table is written. */
export type TableFormat = 'text' | 'csv' | 'markdown';

/** One column: its header, the cell of a row, and whether numbers align right (text and Markdown). */
export interface Column<T> {
  header: string;
  cell(row: T): string;
  /** Default false. */
  right?: boolean;
}

/** The `--format` value as a TableFormat; CliError (exit 2) for another word. */
export function tableFormatOf(value: string | undefined): TableFormat {
  if (value === undefined || value === 'text' || value === 'csv' || value === 'markdown')
    return value ?? 'text';
  throw new CliError(`--format: use text, csv or markdown (got ${JSON.stringify(value)})`, ExitCode.usage);
}

/** The `--format` option of a command that prints a table. */
export const FORMAT_ARG = {
  format: {
    type: 'string',
    valueHint: 'text|csv|markdown',
    description: 'Table format: aligned text (default), CSV, or Markdown for a change request',
  },
} as const;

const csvCell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
const mdCell = (value: string) => value.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The table's lines: a header, one line per row, and `footer` rows (totals) after a rule in text and
 * Markdown (CSV keeps them as rows, first cell saying what they are).
 */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  format: TableFormat,
  footer: readonly (readonly string[])[] = [],
): string[] {
  const headers = columns.map((c) => c.header);
  const body = rows.map((row) => columns.map((c) => c.cell(row)));
  if (format === 'csv') return [headers, ...body, ...footer].map((cells) => cells.map(csvCell).join(','));
  if (format === 'markdown') {
    const rule = columns.map((c) => (c.right ? '---:' : '---'));
    const line = (cells: readonly string[]) => `| ${cells.map(mdCell).join(' | ')} |`;
    const totals = footer.map((cells) => line(cells.map((c) => (c === '' ? '' : `**${c}**`))));
    return [line(headers), line(rule), ...body.map(line), ...totals];
  }
  const widths = columns.map((_, i) =>
    Math.max(...[headers, ...body, ...footer].map((cells) => (cells[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (columns[i]?.right ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), ...body.map(line), ...(footer.length > 0 ? [rule, ...footer.map(line)] : [])];
}
