// bare-http: node:http that reads and discards the body — the network/parse ceiling.

import { fileURLToPath } from 'node:url';
import { startListeningServer } from '../listening-server.ts';
import type { Target } from '../target.ts';
import { stopProcess } from '../processes.ts';
import { peerScript } from '../peer-script.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('../servers/bare-http.ts', import.meta.url));

export const bareHttp: Target = {
  name: 'bare-http',
  description: 'node:http that reads and discards the body (the network/parse ceiling; stores nothing)',
  discardsBytes: true,
  async unavailableReason() {
    return null;
  },
  async start() {
    const server = await startListeningServer(process.execPath, [peerScript(SERVER_SCRIPT)], 'bare-http');
    return {
      pid: server.pid,
      upload: (payload) => ({
        method: 'POST',
        urls: [`${server.baseUrl}/upload`],
        body: { kind: 'multipart', payloadPath: payload.path, fieldName: 'media', fileName: payload.fileName, contentType: payload.contentType },
        success: 'http-2xx',
      }),
      countStored: async () => ({ files: 0, bytes: 0, detail: 'discards by design' }),
      stop: () => stopProcess(server.child),
    };
  },
};
