/** Go-style durations (`1h0m0s`), as the seed's resyncPeriod uses them. Pure; safe in workflows. */

/**
 * Parses a Go duration such as `1h0m0s`, `3h25m12s`, `90s` or `1.5h` into milliseconds, or
 * returns undefined when it is not one. Units h, m, s, ms; a bare 0 is allowed.
 */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
  let total = 0;
  let matched = 0;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2]];
    matched++;
  }
  return matched > 0 ? total : undefined;
}
