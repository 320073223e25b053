// Prometheus metrics (GET /metrics), one registry per app instance so tests can build many.

import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'errcode'>;
  duration: Histogram<'route'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'oapi_media_' });
  return {
    registry,
    requests: new Counter({
      name: 'oapi_media_requests_total', help: 'API requests by route and answered errcode',
      labelNames: ['route', 'method', 'errcode'], registers: [registry],
    }),
    duration: new Histogram({
      name: 'oapi_media_request_seconds', help: 'Time to answer, by route', labelNames: ['route'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [registry],
    }),
  };
}
