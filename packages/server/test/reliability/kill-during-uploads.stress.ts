// The long variant of kill-during-uploads.test.ts: 20 random kill moments.

import { test } from 'node:test';
import { killDuringUploads } from './helpers/kill-rounds.ts';

test('kill -9 at 20 random moments during 64 concurrent uploads: 0 acknowledged lost, 0 orphans, tmp empty, integrity ok', { timeout: 900_000 }, async (t) => {
  await killDuringUploads(20, 'stress', t);
});
