// One server per data folder: a second one would remove the first one's in-flight staging files
// at its start. The lock is an exclusive SQLite lock (fcntl) on DATA/server.lock, held for the
// server's life: the kernel releases it when the process dies, however it dies, so a restart right
// after kill -9 (before anyone reaps the killed process) or after a reboot is never refused, while
// a second live server always is. DATA/server.pid only names the owner in that refusal.

import Database from 'better-sqlite3';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { createPrivateFile, dataFolder, ensureDataFolder, FILE_MODE } from '../data-folder.ts';

export class DataFolderInUseError extends Error {
  override name = 'DataFolderInUseError';
}

/** Takes the data folder's lock; resolves to a release function. */
export async function lockDataFolder(dataDir: string): Promise<() => Promise<void>> {
  await ensureDataFolder(dataDir); // a first start creates the data folder
  const folder = dataFolder(dataDir);
  await createPrivateFile(folder.lock);
  const lock = new Database(folder.lock, { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the lock after the transaction's first lock; BEGIN EXCLUSIVE takes
    // it at once or fails with SQLITE_BUSY (timeout 0: no waiting behind a live server).
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
    const owner = (await readFile(folder.lockOwner, 'utf8').catch(() => '')).trim();
    throw new DataFolderInUseError(`data folder ${dataDir} is in use by another oapi-media server${/^\d+$/.test(owner) ? ` (pid ${owner})` : ''}`);
  }
  const ownerTemp = `${folder.lockOwner}.${process.pid}.tmp`;
  await writeFile(ownerTemp, `${process.pid}\n`, { mode: FILE_MODE });
  await rename(ownerTemp, folder.lockOwner);
  return async () => {
    await unlink(folder.lockOwner).catch(() => {});
    lock.close(); // ends the transaction and drops the lock
  };
}
