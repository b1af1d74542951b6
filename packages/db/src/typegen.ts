import { sql } from 'kysely';
import type { Db } from './connection';

const typeOf: Record<string, string> = {
  uuid: 'string',
  text: 'string',
  integer: 'number',
  bigint: 'number',
  boolean: 'boolean',
  'double precision': 'number',
  jsonb: 'JsonValue',
  'timestamp with time zone': 'Date',
  bytea: 'Buffer',
};

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  is_generated: 'ALWAYS' | 'NEVER';
}

function pascal(name: string): string {
  return name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * Renders the Kysely table interfaces from the live schema of a migrated database. `schema.ts` is
 * this output, committed; `schema-drift.test.ts` regenerates it and fails when the two differ, so
 * the types cannot drift from the migrations. Regenerate with `pnpm migrate types`.
 */
export async function renderSchema(db: Db): Promise<string> {
  const { rows } = await sql<ColumnRow>`
    SELECT table_name, column_name, data_type, is_nullable, column_default, is_generated
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'
    ORDER BY table_name, ordinal_position`.execute(db);
  const tables = new Map<string, ColumnRow[]>();
  for (const row of rows) tables.set(row.table_name, [...(tables.get(row.table_name) ?? []), row]);

  const out = [
    '// Generated from the migrations by `pnpm migrate types`; checked by schema-drift.test.ts. Do not edit.',
    `import type { ${rows.some((row) => row.is_generated === 'ALWAYS') ? 'Generated, GeneratedAlways' : 'Generated'} } from 'kysely';`,
    '',
    'export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };',
    '',
  ];
  for (const [table, columns] of tables) {
    out.push(`export interface ${pascal(table)}Table {`);
    for (const column of columns) {
      const base = typeOf[column.data_type];
      if (!base)
        throw new Error(`typegen: no TypeScript type for ${table}.${column.column_name} (${column.data_type})`);
      const type = column.is_nullable === 'YES' ? `${base} | null` : base;
      // A generated column (GENERATED ALWAYS AS … STORED) is read, never written; one with a default may be left out.
      const wrapped =
        column.is_generated === 'ALWAYS'
          ? `GeneratedAlways<${type}>`
          : column.column_default !== null
            ? `Generated<${type}>`
            : type;
      out.push(`  ${column.column_name}: ${wrapped};`);
    }
    out.push('}', '');
  }
  out.push('export interface Database {');
  for (const table of tables.keys()) out.push(`  ${table}: ${pascal(table)}Table;`);
  out.push('}', '');
  return out.join('\n');
}
