import { t, th } from '../../i18n/index.ts';
import { Html } from '../../web/layout.tsx';
import type { Organization } from '../organizations/service.ts';
import type { RecoveryMethods } from './method.ts';

void Html;

/** The method choice on /forgot-password: it depends only on the organization (ENUM-02). */
export function recoveryChooser(org: Organization, methods: RecoveryMethods): JSX.Element {
  const enabled = org.recovery.methods;
  if (enabled.length === 1) return <input type="hidden" name="method" value={enabled[0]} />;
  return (
    <fieldset class="choices">
      <legend>{th('recovery.chooser_legend')}</legend>
      {enabled.map((m, i) => (
        <div class="field check">
          <input type="radio" id={`method-${m}`} name="method" value={m} checked={i === 0} />
          <label for={`method-${m}`} safe>
            {methods.get(m)?.label ?? m}
          </label>
        </div>
      ))}
    </fieldset>
  );
}

/** The line above the form, for what this organization enables. */
export function chooserIntro(org: Organization, methods: RecoveryMethods): string {
  const enabled = org.recovery.methods;
  if (enabled.length > 1) return t('recovery.chooser_intro');
  return methods.get(enabled[0])?.page.intro ?? t('recovery.enter_identifier');
}
