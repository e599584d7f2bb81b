import type { FastifyRequest } from 'fastify';
import { authOf, contextOf, type RequestDeps } from '../../web/request.ts';
import type { StaffGuard, Viewer } from './guard.ts';
import type { Capability } from './roles.ts';

/** What the console's API routes use of the container the composition root builds. */
export type AdminApiDeps = RequestDeps & { staffGuard: StaffGuard };

/**
 * The guard for an /api/v1/admin route (ADM-05, ADM-07): the viewer, or a thrown AppError the
 * error handler turns into problem details (401, 403 `forbidden` audited, 403
 * `staff_second_factor_required`).
 */
export async function apiViewer(
  d: AdminApiDeps,
  req: FastifyRequest,
  cap: Capability,
  action: string,
): Promise<Viewer> {
  return d.staffGuard.require(await authOf(d, req), cap, contextOf(req), action);
}

/** The guard for an /api/v1/admin action: also a written reason and a recent sign-in (401 `reauthentication_required`). */
export async function apiAction(
  d: AdminApiDeps,
  req: FastifyRequest,
  cap: Capability,
  action: string,
  reason: unknown,
): Promise<{ viewer: Viewer; reason: string }> {
  return d.staffGuard.requireAction(await authOf(d, req), cap, contextOf(req), action, reason);
}
