// The data folder's layout, in one place: what the embedded default keeps where. Every part of the
// server and the operator CLI finds its files through dataFolder(); nothing else names them.
//
//   DATA/meta.sqlite(-wal,-shm)  metadata (SQLite, the embedded default; small media kept with their rows)
//   DATA/blobs/<k0k1>/<key>      media bytes on local disk (the default blob store)
//   DATA/tmp/*.part              uploads being received (staging), removed at start after a crash
//   DATA/secret.key              the key tokens and sealed suite secrets derive from, unless configured
//   DATA/server.lock             the lock of the one server that owns the folder (held by the kernel)
//   DATA/server.pid              that server's pid, for the message a second server gives

import { chmod, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Only the server's own user may read the data folder: it holds small media inside meta.sqlite,
 * the blobs and the key. Folders 0700, files 0600, whatever the umask.
 */
export const FOLDER_MODE = 0o700;
export const FILE_MODE = 0o600;

export interface DataFolder {
  readonly root: string;
  readonly metaDatabase: string;
  readonly blobs: string;
  readonly staging: string;
  readonly secretKey: string;
  readonly lock: string;
  readonly lockOwner: string;
}

export function dataFolder(root: string): DataFolder {
  return Object.freeze({
    root,
    metaDatabase: join(root, 'meta.sqlite'),
    blobs: join(root, 'blobs'),
    staging: join(root, 'tmp'),
    secretKey: join(root, 'secret.key'),
    lock: join(root, 'server.lock'),
    lockOwner: join(root, 'server.pid'),
  });
}

/** Creates the data folder (0700), or tightens one that an older version made with the umask's mode. */
export async function ensureDataFolder(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: FOLDER_MODE });
  await chmod(root, FOLDER_MODE);
}

/**
 * Creates the SQLite file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the
 * main file's mode), and tightens the files an older version left with the umask's mode.
 */
export async function prepareMetaDatabase(folder: DataFolder): Promise<void> {
  await ensureDataFolder(folder.root);
  await (await open(folder.metaDatabase, 'a', FILE_MODE)).close();
  for (const path of [folder.metaDatabase, `${folder.metaDatabase}-wal`, `${folder.metaDatabase}-shm`]) {
    await chmod(path, FILE_MODE).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
