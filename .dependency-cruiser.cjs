/** Dependencies point one way: apps → packages, no cycles, no package reaching into an app. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'packages-never-import-apps',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-never-import-other-apps',
      comment: 'processes talk over queues and HTTP, not imports',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'only-db-speaks-sql',
      comment:
        'one door to Postgres: the query builder (kysely) and SQL live in packages/db repositories and stores; ' +
        'everything else calls them. Tests and benchmarks may inspect tables directly.',
      severity: 'error',
      from: { pathNot: ['^packages/db/', '[.]test[.]ts$', '/test/', '^bench/'] },
      to: { path: ['node_modules/kysely/', 'node_modules/[.]pnpm/kysely@'] },
    },
    {
      name: 'proxmox-and-ssh-take-stores',
      comment:
        'packages/proxmox and packages/ssh take their lease, host-key and credential stores as interfaces ' +
        '(VmidLeaseStore, VlanLeaseStore, HostKeyStore, CredentialReader); the Postgres implementations live in packages/db',
      severity: 'error',
      from: { path: '^packages/(proxmox|ssh)/src/', pathNot: '[.]test[.]ts$' },
      to: { path: '^packages/db/' },
    },
    {
      name: 'testkit-only-in-tests',
      comment:
        'the test harness is never product code: `pnpm start` and every process run without it ' +
        '(what both need, starting processes and the simulator, lives in packages/stack)',
      severity: 'error',
      from: { path: '^(apps|packages|infra)/', pathNot: ['^packages/testkit/', '[.]test[.]ts$', '/test/'] },
      to: { path: '^packages/testkit/' },
    },
    {
      name: 'cli-speaks-http',
      comment: 'the glassdome command reaches the stack through the API only: never the queues or the Proxmox client',
      severity: 'error',
      from: { path: '^apps/cli/' },
      to: { path: ['^packages/(queue|proxmox)/'] },
    },
    {
      name: 'mcp-speaks-http',
      comment:
        "the MCP server reaches Glassdome only through the public HTTP API, with the caller's key: of the " +
        'workspace it imports the logger and the pure lab spec package, never Postgres, Redis, the queues or Proxmox',
      severity: 'error',
      from: { path: '^packages/mcp/', pathNot: ['[.]test[.]ts$', '/test/'] },
      to: {
        path: [
          '^packages/(?!(logger|lab|mcp)/)',
          '^apps/',
          'node_modules/([.]pnpm/)?(pg|ioredis|bullmq|kysely|ssh2)[@/]',
        ],
      },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Build output (each process's bundle, the web UI's) is not source; a library's own dist/ is where its imports lead.
    exclude: { path: '^(apps|packages)/[^/]+/dist/' },
    // node_modules stay in the graph as leaves (not followed), so a rule can name a library (kysely).
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    // Runtime imports only: a type-only import cycle costs nothing at run time.
    tsPreCompilationDeps: false,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
