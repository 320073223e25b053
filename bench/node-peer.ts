// The three Node peers are started and spoken to alike: their own server script (bundled as plain
// JavaScript), one multipart POST /upload with the file part `media`, success = HTTP 2xx.

import { startListeningServer } from './listening-server.ts';
import { peerScript } from './peer-script.ts';
import { stopProcess } from './processes.ts';
import type { RunningTarget } from './target.ts';

export async function startNodePeer(
  label: string,
  scriptTs: string,
  args: string[],
  countStored: RunningTarget['countStored'],
): Promise<RunningTarget> {
  const server = await startListeningServer(process.execPath, [peerScript(scriptTs), ...args], label);
  return {
    pid: server.pid,
    upload: (payload) => ({
      method: 'POST',
      urls: [`${server.baseUrl}/upload`],
      body: { kind: 'multipart', payloadPath: payload.path, fieldName: 'media', fileName: payload.fileName, contentType: payload.contentType },
      success: 'http-2xx',
    }),
    countStored,
    stop: () => stopProcess(server.child),
  };
}
