import type { StepIR } from "../ir/index.js";
import type { RetryPlan } from "./types.js";

// Metaflow never runs more than this many attempts of one task (MAX_ATTEMPTS).
export const METAFLOW_MAX_ATTEMPTS = 6;

/** Minutes between retries as @retry declares it (Metaflow's default is 2). */
function retryDelaySeconds(step: StepIR): number {
  const retry = step.decorators.find((d) => d.name === "retry");
  const minutes = retry?.attributes["minutes_between_retries"];
  const value = typeof minutes === "number" ? minutes : Number(minutes ?? 0);
  // Rounded to milliseconds: 0.1 minutes is 6 seconds, not 6.000000000000001.
  return Number.isFinite(value) && value > 0 ? Math.round(value * 60_000) / 1000 : 0;
}

/**
 * Dagster retries a failed op as the task's next Metaflow attempt: user retries plus
 * error retries (@catch adds those), capped like Metaflow caps attempts.
 */
export function planRetry(step: StepIR): RetryPlan | null {
  const total = Math.min(step.retries.user + step.retries.error, METAFLOW_MAX_ATTEMPTS - 1);
  if (total <= 0) return null;
  return { maxRetries: total, delaySeconds: retryDelaySeconds(step) };
}
