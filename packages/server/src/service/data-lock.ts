// One server per data folder: a second one would remove the first one's in-flight staging files
// at its start. The lock is a pid file; a lock left by a dead process (kill -9) is taken over.

import { open, readFile, unlink } from 'node:fs/promises';
import { dataFolder, ensureDataFolder, FILE_MODE } from '../data-folder.ts';

export class DataFolderInUseError extends Error {
  override name = 'DataFolderInUseError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data folder's lock; resolves to a release function. */
export async function lockDataFolder(dataDir: string): Promise<() => Promise<void>> {
  await ensureDataFolder(dataDir); // a first start creates the data folder
  const path = dataFolder(dataDir).lock;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', FILE_MODE);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => { await unlink(path).catch(() => {}); };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DataFolderInUseError(`data folder ${dataDir} is in use by another oapi-media server (pid ${pid})`);
      }
      await unlink(path).catch(() => {}); // stale: its process is gone
    }
  }
  throw new DataFolderInUseError(`could not lock data folder ${dataDir}`);
}
