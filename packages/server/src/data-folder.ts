// The data folder's layout, in one place: what the embedded default keeps where. Every part of the
// server and the operator CLI finds its files through dataFolder(); nothing else names them.
//
//   DATA/meta.sqlite(-wal,-shm)  metadata (SQLite, the embedded default; small media kept with their rows)
//   DATA/blobs/<k0k1>/<key>      media bytes on local disk (the default blob store)
//   DATA/tmp/*.part              uploads being received (staging), removed at start after a crash
//   DATA/secret.key              the key tokens and sealed suite secrets derive from, unless configured
//   DATA/server.lock             the lock of the one server that owns the folder (held by the kernel)
//   DATA/server.pid              that server's pid, for the message a second server gives
//   DATA/sample.png              a 1x1 image for the upload curl of the first-start banner (on a terminal)

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
  readonly samplePng: string;
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
    samplePng: join(root, 'sample.png'),
  });
}

/** The data folder cannot be used as one (a file, or not this user's): the message says what to change. */
export class DataFolderError extends Error {
  override name = 'DataFolderError';
}

/** A DataFolderError for the usual reasons a data folder cannot be used; other errors as they are. */
export function dataFolderError(error: unknown, root: string): unknown {
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    return new DataFolderError(`data folder ${root} is a file, or inside one, not a folder: pass a folder with --data (or OAPI_MEDIA_DATA)`, { cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    const user = process.getuid?.() ?? 'this user';
    const fix = code === 'EROFS' ? 'it is on a read-only filesystem' : `make it this user's (chown -R ${user} ${root}) or writable by it`;
    return new DataFolderError(`data folder ${root} is not writable by this user (uid ${user}; ${code} on ${syscall ?? 'access'}): ${fix}, or pass another --data (or OAPI_MEDIA_DATA)`, { cause: error });
  }
  return error;
}

/** Creates the data folder (0700), or tightens one that an older version made with the umask's mode. */
export async function ensureDataFolder(root: string): Promise<void> {
  try {
    await mkdir(root, { recursive: true, mode: FOLDER_MODE });
    await chmod(root, FOLDER_MODE);
  } catch (error) {
    throw dataFolderError(error, root);
  }
}

/** Creates `path` 0600 if it is missing (an existing file is left as it is), before SQLite opens it. */
export async function createPrivateFile(path: string): Promise<void> {
  await (await open(path, 'a', FILE_MODE)).close();
}

/**
 * Creates the SQLite file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the
 * main file's mode), and tightens the files an older version left with the umask's mode.
 */
export async function prepareMetaDatabase(folder: DataFolder): Promise<void> {
  await ensureDataFolder(folder.root);
  try {
    await createPrivateFile(folder.metaDatabase);
    for (const path of [folder.metaDatabase, `${folder.metaDatabase}-wal`, `${folder.metaDatabase}-shm`]) {
      await chmod(path, FILE_MODE).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
  } catch (error) {
    throw dataFolderError(error, folder.root);
  }
}
