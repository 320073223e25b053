// The data folder's layout, in one place: what the embedded default keeps where. Every part of the
// server and the operator CLI finds its files through dataFolder(); nothing else names them.
//
//   DATA/meta.sqlite(-wal,-shm)  metadata (SQLite, the embedded default; small media kept with their rows)
//   DATA/blobs/<k0k1>/<key>      media bytes on local disk (the default blob store)
//   DATA/tmp/*.part              uploads being received (staging), removed at start after a crash
//   DATA/secret.key              the key tokens and sealed suite secrets derive from, unless configured
//   DATA/server.pid              the lock of the one server that owns the folder

import { join } from 'node:path';

export interface DataFolder {
  readonly root: string;
  readonly metaDatabase: string;
  readonly blobs: string;
  readonly staging: string;
  readonly secretKey: string;
  readonly lock: string;
}

export function dataFolder(root: string): DataFolder {
  return Object.freeze({
    root,
    metaDatabase: join(root, 'meta.sqlite'),
    blobs: join(root, 'blobs'),
    staging: join(root, 'tmp'),
    secretKey: join(root, 'secret.key'),
    lock: join(root, 'server.pid'),
  });
}
