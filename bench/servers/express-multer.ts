// What a user writes by hand: Express 5 + multer 2 diskStorage, one file per upload, no checks.
//   node --import tsx bench/servers/express-multer.ts DATA_DIR -> prints "listening on http://127.0.0.1:PORT"

import { randomUUID } from 'node:crypto';
import express from 'express';
import multer from 'multer';
import { exitWithParent } from './exit-with-parent.ts';

exitWithParent();
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: express-multer.ts DATA_DIR');

const upload = multer({
  storage: multer.diskStorage({
    destination: dataDir,
    filename: (_req, _file, callback) => callback(null, randomUUID()),
  }),
  limits: { fileSize: 30 * 1024 * 1024 },
});

const app = express();
app.post('/upload', upload.single('media'), (req, res) => {
  if (!req.file) {
    res.status(400).json({ errcode: 41005 });
    return;
  }
  res.json({ errcode: 0, id: req.file.filename, size: req.file.size });
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`);
});
server.keepAliveTimeout = 65_000;
