import type { Config } from '../config/index.ts';
import { closeDeps, createDeps } from '../deps.ts';

/** Administrative commands that need the full container (but no HTTP server). */
export async function runAdminCommand(config: Config, command: string, args: string[], usage: string): Promise<number> {
  const d = await createDeps(config);
  try {
    if (command === 'accounts' && args[0] === 'flagged') {
      const rows = await d.db
        .selectFrom('accounts')
        .select(['id', 'username', 'email', 'flagged_at', 'flag_reason'])
        .where('flagged_at', 'is not', null)
        .orderBy('flagged_at', 'desc')
        .execute();
      if (!rows.length) console.log('no flagged accounts');
      for (const r of rows)
        console.log(`${new Date(r.flagged_at as number).toISOString()}  ${r.username}  ${r.email ?? ''}  ${r.flag_reason ?? ''}`);
      return 0;
    }
    console.error(`unknown command: ${[command, ...args].join(' ')}\n\n${usage}`);
    return 2;
  } finally {
    await closeDeps(d);
  }
}
