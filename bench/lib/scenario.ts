/** A bench scenario: bench/scenarios/<file>.ts exports `scenarios`, each run by name or all. */
export interface Scenario {
  /** what to type after `npm run bench --` to run only this one */
  name: string;
  description: string;
  /** seconds of load per measured run (the runner may scale it with BENCH_SECONDS) */
  run(o: { seconds: number }): Promise<ScenarioResult>;
}

export interface ScenarioResult {
  /** the measurements, free-form but JSON */
  figures: Record<string, unknown>;
  /** each target named with its threshold, the measured value and whether it was met */
  targets?: { name: string; target: string; measured: number; met: boolean }[];
}
