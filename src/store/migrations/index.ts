import type { Migration } from 'kysely';
import * as m001 from './001_foundation.ts';
import * as m002 from './002_sign_in_failures.ts';
import * as m003 from './003_identifier_keys.ts';
import * as m004 from './004_second_factors.ts';
import * as m005 from './005_mfa_sign_in.ts';
import * as m006 from './006_webauthn_challenges.ts';
import * as m007 from './007_qr_logins.ts';
import * as m008 from './008_staff.ts';
import * as m009 from './009_support_review.ts';
import * as m010 from './010_openid_provider.ts';
import * as m012 from './012_account_deletion.ts';
import * as m013 from './013_languages.ts';
import * as m014 from './014_pending_sign_in_origin.ts';
import * as m015 from './015_pending_sign_in_keep.ts';

// Forward-only, applied in name order at start. Each feature adds its own numbered file here.
export const migrations: Record<string, Migration> = {
  '001_foundation': m001,
  '002_sign_in_failures': m002,
  '003_identifier_keys': m003,
  '004_second_factors': m004,
  '005_mfa_sign_in': m005,
  '006_webauthn_challenges': m006,
  '007_qr_logins': m007,
  '008_staff': m008,
  '009_support_review': m009,
  '010_openid_provider': m010,
  '012_account_deletion': m012,
  '013_languages': m013,
  '014_pending_sign_in_origin': m014,
  '015_pending_sign_in_keep': m015,
};
