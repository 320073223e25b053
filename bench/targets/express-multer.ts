// express-multer: Express 5 + multer 2 diskStorage — what a user writes by hand.

import { fileURLToPath } from 'node:url';
import type { Target } from '../target.ts';
import { countPayloadFiles } from '../verify-stored.ts';
import { startNodePeer } from '../node-peer.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('../servers/express-multer.ts', import.meta.url));

export const expressMulter: Target = {
  name: 'express-multer',
  description: 'Express 5 + multer 2 diskStorage, one file per upload (what a user writes by hand)',
  async unavailableReason() {
    return null;
  },
  start(dataDir) {
    return startNodePeer('express-multer', SERVER_SCRIPT, [dataDir], (payload) => countPayloadFiles(dataDir, payload));
  },
};
