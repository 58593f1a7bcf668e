export const BACKOFF_MIN = 1000;
export const BACKOFF_MAX = 30000;

/**
 * Reconnect delay for the given attempt (0-based): exponential 1s, 2s, 4s, ...
 * capped at 30s, with ±20% jitter, always within [1s, 30s] (or [minDelay, 30s+]).
 */
export function backoffDelay(attempt: number, random: () => number = Math.random, minDelay = 0): number {
  const n = Math.max(0, Math.min(attempt, 16));
  const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, n));
  const jittered = base * (0.8 + 0.4 * random());
  const d = Math.round(Math.min(BACKOFF_MAX, Math.max(BACKOFF_MIN, jittered)));
  return minDelay > d ? Math.round(minDelay * (1 + 0.2 * random())) : d;
}
