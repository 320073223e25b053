// Hostile input: property-based fuzzing of multipart bodies (fast-check) over a real socket against
// a real server process: it never crashes, answers every request with the API's JSON (HTTP 200,
// a numeric errcode that is never -1) or closes cleanly, and leaks no fd and no temp file.
// ~1,000 bodies here; the stress variant sends 10,000.

import { test } from 'node:test';
import { fuzzMultipart } from './helpers/fuzz-multipart.ts';

test('1,000 fuzzed multipart bodies: no crash, always the API\'s JSON (never -1) or a clean close, no leak', { timeout: 180_000 }, async (t) => {
  await fuzzMultipart(1000, 'default', t);
});
