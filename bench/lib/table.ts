/** The one table `npm run bench` prints: plain text, columns padded to their widest cell. Pure. */

export interface Table {
  header: readonly string[];
  /** A row is cells, or a section title (one string spanning the table). */
  rows: readonly (readonly string[] | string)[];
}

export function renderTable(table: Table): string {
  const width = table.header.map((h, i) =>
    Math.max(
      h.length,
      ...table.rows.filter((r): r is readonly string[] => typeof r !== 'string').map((r) => (r[i] ?? '').length),
    ),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i]!))
      .join(' │ ')
      .trimEnd();
  const rule = width.map((w) => '─'.repeat(w)).join('─┼─');
  const out = [line(table.header), rule];
  for (const row of table.rows)
    out.push(
      typeof row === 'string' ? `── ${row} ${'─'.repeat(Math.max(0, rule.length - row.length - 4))}` : line(row),
    );
  return out.join('\n');
}
