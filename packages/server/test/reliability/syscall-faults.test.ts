// Faults: syscalls of a real server fail under it (LD_PRELOAD injector built by the test): EIO on
// fsync/fdatasync, ENOSPC and EIO on write, EIO on rename, EMFILE on open, at the 1st ... Nth call
// of one upload (blob file and kept-in-meta.sqlite). The stress variant injects ~1,000 faults.

import { test } from 'node:test';
import { syscallFaultDrill } from './helpers/syscall-drill.ts';

test('syscall faults at each Nth call of an upload -> -1, nothing left behind, integrity ok, the next upload round-trips', { timeout: 120_000 }, async (t) => {
  await syscallFaultDrill(t, { variant: 'default', rounds: 1, maxNth: 200, groupRounds: 5 });
});
