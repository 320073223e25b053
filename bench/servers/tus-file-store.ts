// The tus reference server: @tus/server + @tus/file-store, each upload one file in DATA_DIR (plus
// its .json info), no auth, no hashing, no fsync: the peer of oapi-media's /tus/files (scenario f).
//   node bench/servers/tus-file-store.ts DATA_DIR -> prints "listening on http://127.0.0.1:PORT"

import { createServer } from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { exitWithParent } from './exit-with-parent.ts';

exitWithParent();
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: tus-file-store.ts DATA_DIR');

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dataDir }) });
const server = createServer((req, res) => void tus.handle(req, res));
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`);
});
