// A server that hands out tokens and then never answers the media calls (nor reads their
// bodies, unless told to): what a hung upstream looks like to a client. It counts the calls,
// keeps track of open sockets, and can answer downloads with headers and a stalled body.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SilentServerOptions {
  /** Hold /gettoken this long (Infinity: never answer it). Default 0. */
  tokenDelayMs?: number;
  /** /media/downloadFile: send the headers and this much of a longer body, then stall. */
  stallDownloadAfterBytes?: number;
  /** /media/downloadFile: answer errcode -1 after this delay, every time. */
  busyDownloadAfterMs?: number;
  /** Read the bodies of calls it never answers (default: leave them unread, so uploads stall). */
  readBodies?: boolean;
}

export interface SilentServer {
  readonly baseUrl: string;
  count(path: string): number;
  /** Sockets of media calls still open (a client that released its request closed its own). */
  openSockets(): number;
  /** Resolves once every socket of a media call is closed, or rejects after `ms`. */
  socketsClosed(ms: number): Promise<void>;
  /** Closes the listener; waits for open connections to go (so a leaked socket makes it hang). */
  close(): Promise<void>;
  /** Closes the listener and drops every connection still open. */
  destroy(): Promise<void>;
}

export async function startSilentServer(options: SilentServerOptions = {}): Promise<SilentServer> {
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  /** The sockets that carried a media call (an idle keep-alive socket of /gettoken is no leak). */
  const mediaSockets = new Set<Socket>();
  const held: ServerResponse[] = [];
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://silent');
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    if (pathname.startsWith('/media/')) mediaSockets.add(request.socket);
    const json = (body: unknown) => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body));
    };
    if (pathname === '/gettoken') {
      const delay = options.tokenDelayMs ?? 0;
      if (delay === Infinity) return void held.push(response);
      setTimeout(() => json({ errcode: 0, errmsg: 'ok', access_token: 'silent-token', expires_in: 7200 }), delay);
      return;
    }
    if (pathname === '/media/downloadFile' && options.stallDownloadAfterBytes !== undefined) {
      response.writeHead(200, { 'content-type': 'application/zip', 'content-length': options.stallDownloadAfterBytes * 10 });
      response.write(Buffer.alloc(options.stallDownloadAfterBytes, 1));
      held.push(response);
      return;
    }
    if (pathname === '/media/downloadFile' && options.busyDownloadAfterMs !== undefined) {
      setTimeout(() => json({ errcode: -1, errmsg: '系统繁忙' }), options.busyDownloadAfterMs);
      return;
    }
    // Never answered; the body read to its end, or never read (the client's upload stalls on back-pressure).
    if (options.readBodies) request.resume();
    else request.pause();
    held.push(response);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    count: (path) => counts.get(path) ?? 0,
    openSockets: () => [...mediaSockets].filter((s) => !s.destroyed).length,
    socketsClosed: async (ms) => {
      const until = Date.now() + ms;
      const open = () => [...mediaSockets].filter((s) => !s.destroyed).length;
      while (open() > 0) {
        if (Date.now() > until) throw new Error(`${open()} socket(s) of media calls still open after ${ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
    destroy: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
