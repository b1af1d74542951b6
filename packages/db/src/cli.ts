// `pnpm migrate [latest|down|reset|types]`: runs migrations against DATABASE_URL.
import { writeFileSync } from 'node:fs';
import { loadEnv, vars } from '@glassdome/config';
import { z } from 'zod';
import { checkPostgres, createDb } from './connection';
import { migrateDown, migrateToEmpty, migrateToLatest } from './migrate';
import { renderSchema } from './typegen';

const env = loadEnv(z.object({ DATABASE_URL: vars.backing.DATABASE_URL }), 'migrate');
const command = process.argv[2] ?? 'latest';
const actions: Record<string, () => Promise<string[]>> = {
  latest: () => migrateToLatest(db),
  down: () => migrateDown(db),
  reset: async () => [...(await migrateToEmpty(db)), ...(await migrateToLatest(db))],
  types: async () => {
    await migrateToLatest(db);
    const path = new URL('./schema.ts', import.meta.url).pathname;
    writeFileSync(path, await renderSchema(db));
    return [`wrote ${path}`];
  },
};
const action = actions[command];
if (!action) {
  process.stderr.write(`migrate: unknown command "${command}" (use ${Object.keys(actions).join(', ')})\n`);
  process.exit(2);
}
const db = createDb(env.DATABASE_URL);
try {
  await checkPostgres(env.DATABASE_URL);
  const done = await action();
  process.stdout.write(done.length ? `${done.join('\n')}\n` : 'nothing to do\n');
} catch (error) {
  process.stderr.write(`migrate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
