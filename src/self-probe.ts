import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SelfProbe } from './checks/types.js';
import type { KeyValueStore } from './store/kv.js';

/**
 * Measures the running bot for the `self` check: event-loop delay since the
 * previous reading, a write+read of the store, resident memory.
 */
export function createSelfProbe(kv: KeyValueStore, now: () => number): SelfProbe & { close(): void } {
  // A 100 ms timer: a stall longer than that still shows in full, and an idle bot wakes 10 times a second for it, not 50.
  const histogram = monitorEventLoopDelay({ resolution: 100 });
  histogram.enable();
  return {
    eventLoopDelayP99Ms() {
      const p99 = histogram.percentile(99) / 1e6;
      histogram.reset();
      return Number.isFinite(p99) ? p99 : 0;
    },
    storeRoundTrip() {
      const stamp = String(now());
      kv.set('self.heartbeat', stamp);
      if (kv.get('self.heartbeat') !== stamp) throw new Error('the store did not return what was just written to it');
    },
    rssBytes: () => process.memoryUsage.rss(),
    close: () => histogram.disable(),
  };
}
