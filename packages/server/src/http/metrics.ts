// Prometheus metrics (GET /metrics), one registry per app instance so tests can build many. Node's
// default metrics keep their stock names (process_cpu_seconds_total, nodejs_heap_size_used_bytes,
// ...), so that stock dashboards find them; the server's own carry the oapi_media_ prefix.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  /** This app's metrics and the process's, as /metrics answers them. */
  scrape(): Promise<string>;
  contentType: string;
  /** Drops this app's metrics (their probes hold the app's services): on the app's close. */
  clear(): void;
  requests: Counter<'route' | 'method' | 'status' | 'errcode'>;
  duration: Histogram<'route'>;
  storedBytes: Counter<'type'>;
  sentBytes: Counter;
  authLockouts: Counter;
}

/** Read when /metrics is scraped. */
export interface MetricsProbes {
  /** Upload bodies being read now (each holds a slot). */
  uploadsReading(): number;
  /** Uploads waiting, their bodies unread, for a slot. */
  uploadsWaiting(): number;
  /** With REDIS_URL: where rate limits are counted now, and how often they fell back per node. */
  sharedLimits?: { readonly shared: boolean; readonly fallbacks: number };
}

/**
 * Node's default metrics, once per process: each collectDefaultMetrics starts an event-loop-delay
 * monitor and a GC observer that are never stopped, so one per app made every app built in a
 * process (tests, emulators) live on with them (1.1 MB each, measured) and sample the loop.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(probes: MetricsProbes): Metrics {
  const registry = new Registry();
  new Gauge({
    name: 'oapi_media_uploads_reading', help: 'Upload bodies being read now (OAPI_MEDIA_UPLOAD_STREAMS bounds them)', registers: [registry],
    collect() { this.set(probes.uploadsReading()); },
  });
  new Gauge({
    name: 'oapi_media_uploads_waiting', help: 'Uploads waiting with their body unread for a slot', registers: [registry],
    collect() { this.set(probes.uploadsWaiting()); },
  });
  const { sharedLimits } = probes;
  if (sharedLimits !== undefined) {
    new Gauge({
      name: 'oapi_media_rate_limits_shared', help: 'REDIS_URL: 1 while rate limits are counted in Redis, 0 while each node counts alone (Redis unreachable)',
      registers: [registry], collect() { this.set(sharedLimits.shared ? 1 : 0); },
    });
    new Counter({
      name: 'oapi_media_rate_limit_fallbacks_total', help: 'REDIS_URL: times rate limits fell back to per-node counting (Redis unreachable or too slow)',
      registers: [registry], collect() { this.reset(); this.inc(sharedLimits.fallbacks); },
    });
  }
  return {
    // Merged at each scrape: a merge copies the metrics registered so far.
    scrape: () => Registry.merge([processMetrics(), registry]).metrics(),
    contentType: registry.contentType,
    clear: () => registry.clear(),
    requests: new Counter({
      name: 'oapi_media_requests_total', help: 'API requests by route, HTTP status and answered errcode',
      labelNames: ['route', 'method', 'status', 'errcode'], registers: [registry],
    }),
    duration: new Histogram({
      name: 'oapi_media_request_seconds', help: 'Time to answer, by route', labelNames: ['route'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry],
    }),
    storedBytes: new Counter({
      name: 'oapi_media_stored_bytes_total', help: 'Bytes of media stored (acknowledged uploads), by media type',
      labelNames: ['type'], registers: [registry],
    }),
    sentBytes: new Counter({ name: 'oapi_media_sent_bytes_total', help: 'Bytes of media sent by downloads written to their end', registers: [registry] }),
    authLockouts: new Counter({
      name: 'oapi_media_auth_lockouts_total', help: 'Calls refused by the brute-force lockout (too many failed credential checks from one address)',
      registers: [registry],
    }),
  };
}
