// Faults: kill -9 of a real server process during 64 concurrent uploads (3 random moments; the
// stress variant does 20). Nothing acknowledged is lost, nothing half-written stays behind.

import { test } from 'node:test';
import { killDuringUploads } from './helpers/kill-rounds.ts';

test('kill -9 at 3 random moments during 64 concurrent uploads: 0 acknowledged lost, 0 orphans, tmp empty, integrity ok', { timeout: 180_000 }, async (t) => {
  await killDuringUploads(3, 'default', t);
});
