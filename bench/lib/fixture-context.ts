import type { TestContext } from 'node:test';

/**
 * Just enough of a TestContext for the fixture helpers (test/helpers/*) outside a test: what they register
 * with `t.after` (the bench's own clean-ups too) runs at `cleanUp()`, last first, each failure logged.
 */
export function fixtureContext(): { t: TestContext; cleanUp: () => Promise<void> } {
  const cleanups: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => void cleanups.push(fn) } as unknown as TestContext;
  return {
    t,
    cleanUp: async () => {
      for (const fn of cleanups.splice(0).reverse()) {
        try {
          await fn();
        } catch (err) {
          console.error('cleanup failed:', err);
        }
      }
    },
  };
}
