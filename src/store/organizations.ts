import type { Deps } from '../deps.ts';
import { newId } from '../security/random.ts';

export const DEFAULT_ORG_SLUG = 'default';

const cache = new WeakMap<Deps, string>();

/** Every account belongs to an organization; an install starts with one called "default". */
export async function ensureDefaultOrg(d: Deps): Promise<string> {
  await d.db
    .insertInto('organizations')
    .values({
      id: newId(d.random),
      slug: DEFAULT_ORG_SLUG,
      name: d.config.productName,
      display_name: d.config.productName,
      support_contact: null,
      recovery_settings: JSON.stringify({ methods: ['email_link'] }),
      created_at: d.clock.now(),
    })
    .onConflict((oc) => oc.column('slug').doNothing())
    .execute();
  const row = await d.db.selectFrom('organizations').select('id').where('slug', '=', DEFAULT_ORG_SLUG).executeTakeFirstOrThrow();
  cache.set(d, row.id);
  return row.id;
}

export async function defaultOrgId(d: Deps): Promise<string> {
  return cache.get(d) ?? ensureDefaultOrg(d);
}
