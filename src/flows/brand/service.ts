import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestContext } from '../../context.ts';
import { AppError, type FieldProblem } from '../../errors.ts';
import { t } from '../../i18n/index.ts';
import type { Kernel } from '../../kernel.ts';
import type { Authenticated } from '../../web/auth.ts';
import { contrastRatio, DARK_SURFACES, LIGHT_SURFACES, MIN_CONTRAST, parseHexColor } from '../../web/contrast.ts';
import type { OrganizationService } from '../organizations/service.ts';
import { configurePageBrand, type PageBrandRow, refreshPageBrand } from './page-brand.ts';

/** What this module uses of the container the composition root builds. */
export type BrandDeps = Pick<Kernel, 'config' | 'db' | 'clock' | 'audit' | 'brand'> & {
  organizations: OrganizationService;
};

/** Largest logo accepted, bytes: a header image, not a photo. */
export const LOGO_MAX_BYTES = 256 * 1024;

/**
 * Raster formats only, recognised by their first bytes (the declared type must match them). SVG
 * is refused: it is a document that can carry scripts and external loads, and sanitising it
 * reliably is a project of its own.
 */
const LOGO_TYPES: Record<string, (b: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/webp': (b) =>
    b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
};

export interface BrandView {
  displayName: string;
  primaryColor: string;
  primaryColorDark: string;
  supportContact: string;
  supportUrl: string | null;
  /** the logo's URL with its version, or null */
  logoUrl: string | null;
}

export interface BrandInput {
  displayName?: string;
  primaryColor?: string | null;
  primaryColorDark?: string | null;
  supportContact?: string | null;
  supportUrl?: string | null;
}

/**
 * Whether the base stylesheet has a dark scheme: only then may the theme swap in the dark-mode
 * primary colour (on a light-only page it would sit on white at too low a contrast).
 */
const BASE_HAS_DARK_MODE = (() => {
  try {
    return readFileSync(join(import.meta.dirname, '..', '..', 'web', 'public', 'app.css'), 'utf8').includes(
      'prefers-color-scheme: dark',
    );
  } catch {
    return false;
  }
})();

/**
 * Why a brand colour cannot be used, in the reader's language, or undefined when it can: the
 * check of src/web/contrast.ts (not a hex colour, or below 4.5:1 against a surface of its scheme).
 */
function colorProblem(input: string, scheme: 'light' | 'dark'): string | undefined {
  const color = parseHexColor(input);
  if (!color) return t('brand.error.not_a_colour');
  const surfaces = scheme === 'light' ? LIGHT_SURFACES : DARK_SURFACES;
  const ratio = Math.min(...surfaces.map((s) => contrastRatio(color, s)));
  if (ratio >= MIN_CONTRAST) return undefined;
  const values = { color, ratio, min: MIN_CONTRAST };
  return scheme === 'light' ? t('brand.error.contrast_light', values) : t('brand.error.contrast_dark', values);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * An organization's brand (issue 17): display name, primary colours (WCAG 4.5:1 in light and dark
 * mode, checked when saved), support contact and link, and a logo kept in the database and served
 * from /brand/{slug}/logo. Changing it is an admin change (ADM-05, SES-07), audited.
 */
export class BrandService {
  constructor(private readonly d: BrandDeps) {}

  private async row(slug: string) {
    const org = await this.d.organizations.bySlug(slug);
    if (!org) return undefined;
    return this.d.db.selectFrom('organizations').selectAll().where('id', '=', org.id).executeTakeFirst();
  }

  async view(slug: string): Promise<BrandView | undefined> {
    const r = await this.row(slug);
    if (!r) return undefined;
    const b = this.d.config.brand;
    return {
      displayName: r.display_name,
      primaryColor: r.brand_color ?? b.primaryColor,
      primaryColorDark: r.brand_color_dark ?? b.primaryColorDark,
      supportContact: r.support_contact ?? this.d.brand.supportContact,
      supportUrl: r.support_url ?? b.supportUrl ?? null,
      logoUrl: r.logo ? `${this.d.config.publicUrl}/brand/${r.slug}/logo?v=${r.logo_version ?? 0}` : null,
    };
  }

  async update(slug: string, auth: Authenticated, input: BrandInput, ctx: RequestContext): Promise<BrandView> {
    const org = await this.d.organizations.requireAdminChange(slug, auth, ctx, 'organization.brand');
    const fields: FieldProblem[] = [];
    const set: Record<string, string | null> = {};
    const text = (name: keyof BrandInput, column: string, max: number, nullable: boolean) => {
      const v = input[name];
      if (v === undefined) return;
      if (v === null || v.trim() === '') {
        if (nullable) set[column] = null;
        else fields.push({ field: name, code: 'required', message: t('brand.error.required') });
        return;
      }
      if (v.trim().length > max || CONTROL.test(v))
        fields.push({ field: name, code: 'invalid', message: t('brand.error.too_long', { max }) });
      else set[column] = v.trim();
    };
    text('displayName', 'display_name', 100, false);
    text('supportContact', 'support_contact', 200, true);
    for (const [name, column, scheme] of [
      ['primaryColor', 'brand_color', 'light'],
      ['primaryColorDark', 'brand_color_dark', 'dark'],
    ] as const) {
      const v = input[name];
      if (v === undefined) continue;
      if (v === null || v === '') set[column] = null;
      else {
        const problem = colorProblem(v, scheme);
        if (problem) fields.push({ field: name, code: 'contrast', message: problem });
        else set[column] = parseHexColor(v) as string;
      }
    }
    if (input.supportUrl !== undefined) {
      const v = input.supportUrl?.trim() ?? '';
      if (!v) set.support_url = null;
      else if (!/^https?:\/\//i.test(v) || v.length > 500 || !URL.canParse(v))
        fields.push({ field: 'supportUrl', code: 'invalid', message: t('brand.error.support_url') });
      else set.support_url = new URL(v).href;
    }
    if (fields.length) throw new AppError('validation_failed', undefined, { fields });
    await this.d.db.transaction().execute(async (trx) => {
      if (Object.keys(set).length) await trx.updateTable('organizations').set(set).where('id', '=', org.id).execute();
      await this.d.audit.record(
        'org.brand_changed',
        ctx,
        { actorId: auth.account.id, details: { org: org.slug, fields: Object.keys(set).join(',') } },
        trx,
      );
    });
    await refreshPageBrand();
    return (await this.view(slug)) as BrandView;
  }

  async setLogo(
    slug: string,
    auth: Authenticated,
    input: { contentType: string; data: string },
    ctx: RequestContext,
  ): Promise<BrandView> {
    const org = await this.d.organizations.requireAdminChange(slug, auth, ctx, 'organization.logo');
    const type = String(input.contentType ?? '')
      .trim()
      .toLowerCase();
    if (type.startsWith('image/svg')) throw new AppError('unsupported_media_type', t('brand.error.svg_refused'));
    const matches = LOGO_TYPES[type];
    if (!matches || !Object.hasOwn(LOGO_TYPES, type))
      throw new AppError('unsupported_media_type', t('brand.error.logo_type'));
    const data = String(input.data ?? '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data))
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'data', code: 'invalid', message: t('brand.error.not_base64') }],
      });
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length > LOGO_MAX_BYTES)
      throw new AppError('payload_too_large', t('brand.error.logo_too_large', { kb: LOGO_MAX_BYTES / 1024 }));
    if (bytes.length < 12 || !matches(bytes))
      throw new AppError('validation_failed', undefined, {
        fields: [{ field: 'data', code: 'type_mismatch', message: t('brand.error.type_mismatch', { type }) }],
      });
    await this.d.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('organizations')
        .set({ logo: bytes.toString('base64'), logo_type: type, logo_version: this.d.clock.now() })
        .where('id', '=', org.id)
        .execute();
      await this.d.audit.record(
        'org.logo_changed',
        ctx,
        { actorId: auth.account.id, details: { org: org.slug, type, bytes: bytes.length } },
        trx,
      );
    });
    await refreshPageBrand();
    return (await this.view(slug)) as BrandView;
  }

  async removeLogo(slug: string, auth: Authenticated, ctx: RequestContext): Promise<void> {
    const org = await this.d.organizations.requireAdminChange(slug, auth, ctx, 'organization.logo');
    await this.d.db
      .updateTable('organizations')
      .set({ logo: null, logo_type: null, logo_version: null })
      .where('id', '=', org.id)
      .execute();
    await this.d.audit.record('org.logo_removed', ctx, { actorId: auth.account.id, details: { org: org.slug } });
    await refreshPageBrand();
  }

  /**
   * Lets every page's frame (src/web/layout.tsx) show the brands' favicons and help links, read
   * from this database: called once the app is ready to serve (src/flows/brand/page-brand.ts).
   */
  async servePageBrand(): Promise<void> {
    const b = this.d.config.brand;
    configurePageBrand({
      install: { supportUrl: b.supportUrl, supportEmail: b.supportEmail, supportContact: this.d.config.supportContact },
      now: () => this.d.clock.now(),
      load: async (): Promise<PageBrandRow[]> => {
        const rows = await this.d.db
          .selectFrom('organizations')
          .select(['slug', 'support_url', 'support_contact', 'logo_type', 'logo_version'])
          .where((eb) =>
            eb.or([
              eb('support_url', 'is not', null),
              eb('support_contact', 'is not', null),
              eb('logo_type', 'is not', null),
            ]),
          )
          .execute();
        return rows.map((r) => ({
          slug: r.slug,
          supportUrl: r.support_url,
          supportContact: r.support_contact,
          logoType: r.logo_type,
          logoVersion: r.logo_version,
        }));
      },
    });
    await refreshPageBrand();
  }

  /** The stored logo, for /brand/{slug}/logo. */
  async logo(slug: string): Promise<{ bytes: Buffer; type: string; version: number } | undefined> {
    const r = await this.row(slug);
    if (!r?.logo || !r.logo_type) return undefined;
    return { bytes: Buffer.from(r.logo, 'base64'), type: r.logo_type, version: r.logo_version ?? 0 };
  }

  /**
   * The stylesheet that puts the brand on pages: the primary colours as the CSS variables the
   * base stylesheet uses (light and dark), and the logo beside the name in the header.
   */
  async themeCss(slug: string | undefined): Promise<string> {
    const b = this.d.config.brand;
    const v = slug ? await this.view(slug) : undefined;
    const light = v?.primaryColor ?? b.primaryColor;
    const dark = v?.primaryColorDark ?? b.primaryColorDark;
    // Values were checked (parseHexColor) when configured or saved; a URL we build ourselves.
    const logo = v?.logoUrl
      ? `\n.top .brand::before{content:"";display:inline-block;width:32px;height:32px;margin-inline-end:8px;vertical-align:middle;background:url("${v.logoUrl}") center/contain no-repeat}`
      : '';
    const darkRule = BASE_HAS_DARK_MODE ? `\n@media (prefers-color-scheme: dark){:root{--accent:${dark}}}` : '';
    return `:root{--accent:${light}}${darkRule}${logo}\n`;
  }
}
