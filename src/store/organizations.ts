import type { Kernel } from '../kernel.ts';
import { newId } from '../security/random.ts';

/** What this module uses of the container the composition root builds. */
export type OrgStoreDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'random'>;

export const DEFAULT_ORG_SLUG = 'default';

const cache = new WeakMap<OrgStoreDeps, string>();

/** Every account belongs to an organization; an install starts with one called "default". */
export async function ensureDefaultOrg(d: OrgStoreDeps): Promise<string> {
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
  const row = await d.db
    .selectFrom('organizations')
    .select('id')
    .where('slug', '=', DEFAULT_ORG_SLUG)
    .executeTakeFirstOrThrow();
  cache.set(d, row.id);
  return row.id;
}

export async function defaultOrgId(d: OrgStoreDeps): Promise<string> {
  return cache.get(d) ?? ensureDefaultOrg(d);
}

/** Whether the organization requires its members to have a second factor (MFA-08). */
export async function orgRequiresSecondFactor(d: Pick<Kernel, 'db'>, orgId: string): Promise<boolean> {
  const row = await d.db
    .selectFrom('organizations')
    .select('require_second_factor')
    .where('id', '=', orgId)
    .executeTakeFirst();
  return Number(row?.require_second_factor ?? 0) === 1;
}
