// The ceiling: node:http reading and discarding the body, answering a small JSON. Nothing is
// stored, so it shows what HTTP parsing and the loopback cost with no work at all.
//   node --import tsx bench/servers/bare-http.ts   -> prints "listening on http://127.0.0.1:PORT"

import { createServer } from 'node:http';
import { exitWithParent } from './exit-with-parent.ts';

exitWithParent();
const server = createServer((req, res) => {
  let received = 0;
  req.on('data', (chunk: Buffer) => (received += chunk.length));
  req.on('end', () => {
    const answer = JSON.stringify({ errcode: 0, received });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') console.log(`listening on http://127.0.0.1:${address.port}`);
});
