/** A column of a plain-text table: its header and how to show one row's cell. */
export interface Column<T> {
  header: string;
  cell(row: T): unknown;
}

function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Rows as aligned text columns, the header first; "(none)" when there are no rows. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string[] {
  if (rows.length === 0) return ['(none)'];
  const cells = rows.map((row) => columns.map((column) => show(column.cell(row))));
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...cells.map((line) => line[index]!.length)),
  );
  const format = (line: string[]) =>
    line
      .map((cell, index) => cell.padEnd(widths[index]!))
      .join('  ')
      .trimEnd();
  return [format(columns.map((column) => column.header.toUpperCase())), ...cells.map(format)];
}
