import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.ts';
import type { OutboxRow } from '../delivery/worker.ts';

/**
 * One per-organization number a method reads (a lifetime, a length, a count), with the bounds an
 * admin may set it within. Bounds come from docs/security.md; the default applies until an admin saves
 * another value.
 */
export interface SettingBound {
  min: number;
  max: number;
  /** a number, or one derived from the configuration (e.g. LATCHKEY_RESET_TTL) */
  default: number | ((config: Config) => number);
  /** the field's label on the organization settings page and its description in the API */
  label: string;
}

/**
 * Registers HTTP routes a method needs beyond the flow's own (e.g. a code page). `D` is what the
 * flow hands its methods (e.g. `RecoveryMethodDeps`), never the whole container.
 */
export type RouteRegistrar<D> = (app: FastifyInstance, d: D) => void;

/** Runs one background job a method queues through the outbox (`d.outbox.job`). */
export type JobRunner<D> = (d: D, payload: Record<string, unknown>, row: OutboxRow) => Promise<void>;

/**
 * What every method has, whatever flow it plugs into (recovery today; second factors and sign-in
 * methods later extend it the way `RecoveryMethod` does). Everything a flow, a page or the API
 * lists about its methods is derived from these fields, so a new method is its folder plus one
 * line in the composition root's list.
 */
export interface Method<D = never> {
  /** stored in rows and settings, sent by forms and API clients: lowercase, digits, underscores */
  id: string;
  /** what a person picks: the chooser option, the organization settings checkbox */
  label: string;
  /**
   * Per-organization settings the method reads, by name. Methods that share a setting (e.g. the
   * code length of every OTP method) list the same `SettingBound` object.
   */
  settings?: Readonly<Record<string, SettingBound>>;
  /** routes the method adds; one registrar shared by several methods is registered once */
  routes?: readonly RouteRegistrar<D>[];
  /** background jobs by kind; one runner shared by several methods is registered once */
  jobs?: Readonly<Record<string, JobRunner<D>>>;
}

const ID = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * The methods of one flow, in the order they are offered. Built once in the composition root
 * (src/deps.ts) from a plain list; tests build their own with extra methods. It checks the list
 * up front, so a clash (two methods with one id, one setting name with two different bounds,
 * one job kind with two runners) fails start rather than surprising a user.
 */
/** The job runner type of a method type (its flow's deps). */
type RunnerOf<M extends Method<never>> = NonNullable<M['jobs']>[string];

export class MethodRegistry<M extends Method<never>> {
  private readonly byId = new Map<string, M>();
  private readonly list: readonly M[];
  private readonly idList: readonly string[];
  private readonly bounds: readonly (readonly [string, SettingBound])[];
  private readonly runners = new Map<string, RunnerOf<M>>();

  constructor(methods: readonly M[]) {
    if (methods.length === 0) throw new Error('a flow needs at least one method');
    const owners = new Map<string, { bound: SettingBound; count: number }>();
    for (const m of methods) {
      if (!ID.test(m.id)) throw new Error(`method id "${m.id}": use 1-32 lowercase letters, digits and underscores`);
      if (this.byId.has(m.id)) throw new Error(`method "${m.id}" is listed twice`);
      this.byId.set(m.id, m);
      for (const [name, bound] of Object.entries(m.settings ?? {})) {
        if (name === 'methods') throw new Error(`method "${m.id}": "methods" is not a setting name`);
        const seen = owners.get(name);
        if (seen && seen.bound !== bound)
          throw new Error(`setting "${name}" has two different bounds (method "${m.id}")`);
        owners.set(name, { bound, count: (seen?.count ?? 0) + 1 });
      }
      for (const [kind, run] of Object.entries(m.jobs ?? {})) {
        const seen = this.runners.get(kind);
        if (seen && seen !== run) throw new Error(`job "${kind}" has two runners (method "${m.id}")`);
        this.runners.set(kind, run as RunnerOf<M>);
      }
    }
    // A method's own settings first, in the order of the methods; then the ones several share.
    const names = [...owners.keys()];
    const own = names.filter((n) => owners.get(n)?.count === 1);
    const shared = names.filter((n) => (owners.get(n)?.count ?? 0) > 1);
    this.bounds = [...own, ...shared].map((n) => [n, (owners.get(n) as { bound: SettingBound }).bound]);
    this.list = Object.freeze([...this.byId.values()]);
    this.idList = Object.freeze([...this.byId.keys()]);
  }

  all(): readonly M[] {
    return this.list;
  }

  ids(): readonly string[] {
    return this.idList;
  }

  get(id: string): M | undefined {
    return this.byId.get(id);
  }

  /** every setting of every method, each once: own settings first, then shared ones */
  settings(): readonly (readonly [string, SettingBound])[] {
    return this.bounds;
  }

  routes(): NonNullable<M['routes']>[number][] {
    return [...new Set(this.all().flatMap((m) => m.routes ?? []))];
  }

  jobs(): [string, RunnerOf<M>][] {
    return [...this.runners];
  }
}

/** A setting's default under this configuration. */
export function settingDefault(bound: SettingBound, config: Config): number {
  return typeof bound.default === 'function' ? bound.default(config) : bound.default;
}
