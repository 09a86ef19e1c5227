/** Local times of day in a time zone (the briefing's hour, quiet hours). */

/** Minutes since midnight of "HH:MM". */
export function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** Local date (YYYY-MM-DD), minutes since local midnight and weekday of a time in a zone. */
export function localParts(at: number, timeZone: string): { day: string; minutes: number; weekday: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      weekday: 'short',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday!);
  return { day: `${parts.year}-${parts.month}-${parts.day}`, minutes: Number(parts.hour) * 60 + Number(parts.minute), weekday };
}

/** True when `at` falls between the local times `from` and `to` ("23:00"–"07:00" spans midnight); equal times: never. */
export function withinLocalHours(at: number, timeZone: string, from: string, to: string): boolean {
  const now = localParts(at, timeZone).minutes;
  const start = toMinutes(from);
  const end = toMinutes(to);
  if (start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}
