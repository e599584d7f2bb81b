import { DEFAULT_ORG_SLUG } from '../store/organizations.ts';

/**
 * The organization a page is shown for: its name on the page and every link and form kept under
 * /o/{slug}/… so a member never drops back to the install's pages mid-flow (issue 17, defect 3).
 * The default organization is the install itself: no prefix.
 */
export interface OrgView {
  slug: string;
  displayName: string;
}

/** `/o/{slug}` for an organization's context, '' for the install's own pages. */
export function orgPrefix(org: OrgView | undefined | null): string {
  return org && org.slug !== DEFAULT_ORG_SLUG ? `/o/${encodeURIComponent(org.slug)}` : '';
}

/** The name a page wears: the organization's, or the product's outside one. */
export function orgName(org: OrgView | undefined | null, productName: string): string {
  return org && org.slug !== DEFAULT_ORG_SLUG ? org.displayName : productName;
}

/** The organization slug in one of our own paths (/o/{slug}/…), for forms that carry a way back. */
export function slugOfPath(path: string): string | undefined {
  return /^\/o\/([a-z0-9-]{1,40})\//.exec(path)?.[1];
}
