// tus-file-store: @tus/server + @tus/file-store, the tus reference implementation writing each
// upload to one file — the peer of oapi-media's /tus/files in scenario f (large files).

import { fileURLToPath } from 'node:url';
import { startListeningServer } from '../listening-server.ts';
import { peerScript } from '../peer-script.ts';
import { stopProcess } from '../processes.ts';
import type { SessionTarget } from '../target.ts';
import { countPayloadFiles } from '../verify-stored.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('../servers/tus-file-store.ts', import.meta.url));

export const tusFileStore: SessionTarget = {
  name: 'tus-file-store',
  description: '@tus/server 2 + @tus/file-store 2 (the tus reference server: one file per upload, no auth, hashing or fsync), tus at /files',
  async start(dataDir) {
    const server = await startListeningServer(process.execPath, [peerScript(SERVER_SCRIPT), dataDir], 'tus-file-store');
    return {
      pid: server.pid,
      sessions: () => ({ protocol: 'tus', url: `${server.baseUrl}/files` }),
      // Each upload is one file of the payload's size beside its .json info.
      countStored: (payload) => countPayloadFiles(dataDir, payload),
      stop: () => stopProcess(server.child),
    };
  },
};
