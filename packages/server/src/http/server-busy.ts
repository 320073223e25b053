// While the server itself works on a request (a large session's commit: its chunks streamed into
// one file, hashed and fsynced), the connection is silent because of us, not the client: the idle
// timeout (OAPI_MEDIA_REQUEST_IDLE_TIMEOUT_MS, a slow-loris guard) must not cut it. Measured: four
// 1 GiB tus uploads completing together took over 30 s to commit, and their final PATCHes were cut.

import type { FastifyRequest } from 'fastify';

export async function withoutIdleTimeout<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  const socket = request.raw.socket;
  const idleMs = socket.timeout ?? 0;
  socket.setTimeout(0);
  try {
    return await work();
  } finally {
    if (!socket.destroyed) socket.setTimeout(idleMs);
  }
}
