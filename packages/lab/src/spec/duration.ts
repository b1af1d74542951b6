const UNIT_SECONDS = { m: 60, h: 3600, d: 86400 } as const;

/** A lab lifetime: a whole number of minutes, hours or days ("30m", "8h", "2d"). */
export const DURATION_PATTERN = /^[1-9]\d{0,5}[mhd]$/;

/** Seconds in a duration that matches DURATION_PATTERN; undefined for anything else. */
export function durationSeconds(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  const unit = text.at(-1) as keyof typeof UNIT_SECONDS;
  return Number(text.slice(0, -1)) * UNIT_SECONDS[unit];
}

/** The largest whole unit that states `seconds` exactly, for messages ("7d", "90m"). */
export function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (seconds % UNIT_SECONDS[unit] === 0) return `${seconds / UNIT_SECONDS[unit]}${unit}`;
  }
  return `${seconds}s`;
}
