// Test helpers for the configuration: a config that must load, or the problems that must be reported.
import { loadConfig, type Env, type WatchdogConfig } from '../../src/config/load-config.js';

/** The config for `env`; throws with the problems if it does not load. */
export function configOk(env: Env): WatchdogConfig {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(`unexpected problems:\n${result.problems.join('\n')}`);
  return result.config;
}

/** The problems reported for `env`; throws if it loads. */
export function configProblems(env: Env): string[] {
  const result = loadConfig(env);
  if (result.ok) throw new Error('expected problems, got a config');
  return result.problems;
}
