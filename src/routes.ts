import type { FastifyInstance } from 'fastify';
import type { Deps } from './deps.ts';
import { registerAccountApi } from './flows/account/api.ts';
import { registerAccountPages } from './flows/account/pages.tsx';
import { registerPasswordCheckApi } from './flows/account/password-check-api.ts';
import { registerAdminClients } from './flows/apps/admin.tsx';
import { registerAppsRoutes } from './flows/apps/routes.tsx';
import { registerFactorsApi } from './flows/factors/api.ts';
import { registerFactorsPages } from './flows/factors/pages.tsx';
import { registerOrganizationsApi } from './flows/organizations/api.ts';
import { registerOrganizationsPages } from './flows/organizations/pages.tsx';
import { registerPhoneApi } from './flows/phone/api.ts';
import { registerPhonePages } from './flows/phone/pages.tsx';
import { registerRecoveryApi } from './flows/recovery/api.ts';
import { registerRecoveryPages } from './flows/recovery/pages.tsx';
import { registerRegistrationApi } from './flows/registration/api.ts';
import { registerRegistrationPages } from './flows/registration/pages.tsx';
import { registerSessionsApi } from './flows/sessions/api.ts';
import { registerSignInApi } from './flows/signin/api.ts';
import { registerSignInPages } from './flows/signin/pages.tsx';
import { registerSecondFactorPages } from './flows/signin/second-factor-pages.tsx';
import { registerStaffApi } from './flows/staff/api.ts';
import { registerStaffPages } from './flows/staff/pages.tsx';
import { registerExternalApi } from './methods/external/api.ts';
import { registerExternalPages } from './methods/external/pages.tsx';
import { registerCaptchaApi } from './security/captcha/api.ts';
import { registerDevMailbox } from './web/dev-mailbox.tsx';
import { registerOps } from './web/ops.ts';
import { Problem } from './web/schemas.ts';

/** Every route of the service, flow by flow: each flow's JSON API and its pages. */
export async function registerRoutes(app: FastifyInstance, d: Deps): Promise<void> {
  app.addSchema(Problem);
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/login', 302));
  registerOps(app, d);
  registerDevMailbox(app, d);
  registerCaptchaApi(app, d);

  registerRegistrationApi(app, d);
  registerRegistrationPages(app, d);
  registerSignInApi(app, d);
  registerSignInPages(app, d);
  registerSecondFactorPages(app, d);
  registerSessionsApi(app, d);
  registerAccountApi(app, d);
  registerFactorsApi(app, d);
  registerFactorsPages(app, d);
  registerAccountPages(app, d);
  registerPasswordCheckApi(app, d);
  registerExternalApi(app, d);
  registerExternalPages(app, d);
  registerRecoveryApi(app, d);
  registerRecoveryPages(app, d);
  registerOrganizationsApi(app, d);
  registerOrganizationsPages(app, d);
  registerPhoneApi(app, d);
  registerPhonePages(app, d);
  if (d.config.op.enabled) {
    registerAppsRoutes(app, d);
    registerAdminClients(app, d);
  }
  registerStaffApi(app, d);
  registerStaffPages(app, d);
  // Routes the recovery methods add (e.g. the code page), each registrar once.
  for (const register of d.recoveryMethods.routes()) register(app, d);
}
