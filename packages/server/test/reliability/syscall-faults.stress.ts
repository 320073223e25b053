// The long variant of syscall-faults.test.ts (npm run test:stress): the whole matrix over 8
// rounds of other sample sizes, and 20 failed shared WAL fsyncs: ~1,000 injected syscall faults.

import { test } from 'node:test';
import { syscallFaultDrill } from './helpers/syscall-drill.ts';

test('~1,000 injected syscall faults -> each upload -1, nothing left behind, integrity ok, the next upload round-trips', { timeout: 1_800_000 }, async (t) => {
  await syscallFaultDrill(t, { variant: 'stress', rounds: 8, maxNth: 200, groupRounds: 20 });
});
