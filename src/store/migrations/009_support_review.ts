import type { Kysely } from 'kysely';

// Support requests (ADM-08) and the staff review queue (LOG-04 and the other reasons an account
// needs a human look). A review item's `open_key` is `kind:subject` while it is open and null once
// resolved: a unique index on it keeps one open item per account and kind, atomically on both
// engines (both allow many NULLs in a unique index), while resolved items stay as history.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('support_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('ref', 'text', (c) => c.notNull().unique())
    .addColumn('identifier', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
    .addColumn('org_id', 'text')
    .addColumn('contact', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('support_requests_account').on('support_requests').column('account_id').execute();

  await db.schema
    .createTable('support_messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('request_id', 'text', (c) => c.notNull().references('support_requests.id'))
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('staff_id', 'text')
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('support_messages_request').on('support_messages').column('request_id').execute();

  await db.schema
    .createTable('review_items')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.references('accounts.id'))
    .addColumn('org_id', 'text')
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('open_key', 'text', (c) => c.unique())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('details', 'text')
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('assigned_to', 'text')
    .addColumn('assigned_at', 'bigint')
    .addColumn('resolved_at', 'bigint')
    .addColumn('resolved_by', 'text')
    .addColumn('outcome', 'text')
    .execute();
  await db.schema.createIndex('review_items_open').on('review_items').columns(['resolved_at', 'opened_at']).execute();
  await db.schema.createIndex('review_items_account').on('review_items').column('account_id').execute();

  await db.schema
    .createTable('review_notes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('item_id', 'text', (c) => c.notNull().references('review_items.id'))
    .addColumn('author_id', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('review_notes_item').on('review_notes').column('item_id').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
