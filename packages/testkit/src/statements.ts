/**
 * A database handle (Kysely's) that tells `seen` the text of every statement sent through it, and
 * is otherwise the handle itself: for tests that count the round trips a piece of code makes.
 */
export function reportingStatements<T extends object>(db: T, seen: (sql: string) => void): T {
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'executeQuery' || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (query: { sql: string } | { compile(): { sql: string } }, ...rest: unknown[]) => {
        seen('sql' in query ? query.sql : query.compile().sql);
        return value.call(target, query, ...rest);
      };
    },
  });
}
