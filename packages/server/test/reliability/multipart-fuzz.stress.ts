// The long variant of multipart-fuzz.test.ts: 10,000 generated bodies.

import { test } from 'node:test';
import { fuzzMultipart } from './helpers/fuzz-multipart.ts';

test('10,000 fuzzed multipart bodies: no crash, always the API\'s JSON (never -1) or a clean close, no leak', { timeout: 1_800_000 }, async (t) => {
  await fuzzMultipart(10_000, 'stress', t);
});
