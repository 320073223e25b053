// express-multer: Express 5 + multer 2 diskStorage — what a user writes by hand.

import { fileURLToPath } from 'node:url';
import { startListeningServer } from '../listening-server.ts';
import { stopProcess } from '../processes.ts';
import type { Target } from '../target.ts';
import { countPayloadFiles } from '../verify-stored.ts';
import { peerScript } from '../peer-script.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('../servers/express-multer.ts', import.meta.url));

export const expressMulter: Target = {
  name: 'express-multer',
  description: 'Express 5 + multer 2 diskStorage, one file per upload (what a user writes by hand)',
  async unavailableReason() {
    return null;
  },
  async start(dataDir) {
    const server = await startListeningServer(process.execPath, [peerScript(SERVER_SCRIPT), dataDir], 'express-multer');
    return {
      pid: server.pid,
      upload: (payload) => ({
        method: 'POST',
        urls: [`${server.baseUrl}/upload`],
        body: { kind: 'multipart', payloadPath: payload.path, fieldName: 'media', fileName: payload.fileName, contentType: payload.contentType },
        success: 'http-2xx',
      }),
      countStored: (payload) => countPayloadFiles(dataDir, payload),
      stop: () => stopProcess(server.child),
    };
  },
};
