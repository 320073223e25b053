// A port that is free on 127.0.0.1 right now, for targets that must be told their port (nginx,
// oapi-media); the short race until they bind it is harmless on a machine running only the bench.

import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
