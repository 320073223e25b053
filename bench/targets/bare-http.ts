// bare-http: node:http that reads and discards the body — the network/parse ceiling.

import { fileURLToPath } from 'node:url';
import type { Target } from '../target.ts';
import { startNodePeer } from '../node-peer.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('../servers/bare-http.ts', import.meta.url));

export const bareHttp: Target = {
  name: 'bare-http',
  description: 'node:http that reads and discards the body (the network/parse ceiling; stores nothing)',
  discardsBytes: true,
  async unavailableReason() {
    return null;
  },
  start() {
    return startNodePeer('bare-http', SERVER_SCRIPT, [], async () => ({ files: 0, bytes: 0, detail: 'discards by design' }));
  },
};
