// An upload over a bare socket whose body is sent at a set pace (bytes per second), as a slow
// mobile link or a trickling client sends it: the head at once, then the body in ticks. Its
// answer is read as soon as the server gives one, even while the body is still being sent.

import type { Socket } from 'node:net';
import { multipartBody } from '../../helpers/e2e-http.ts';
import { openSocket, readResponse, type RawResponse } from '../../helpers/raw-http.ts';

export interface PacedUpload {
  socket: Socket;
  /** The whole request body (multipart) and the file inside it. */
  body: Buffer;
  data: Buffer;
  /** performance.now() when the head was sent. */
  startedAt: number;
  /** The answer, or the error if the socket closed without a complete one; never rejects. */
  outcome: Promise<{ response: RawResponse; at: number } | { error: Error; at: number }>;
  /** Body bytes sent so far. */
  sent(): number;
  /** Stops sending (the socket stays open). */
  stop(): void;
}

export interface PacedUploadOptions {
  token: string;
  data: Buffer;
  filename: string;
  type?: string;
  bytesPerSecond: number;
  /** Time between two writes (default 50 ms; a trickle of 1 B/s uses 1000). */
  tickMs?: number;
  /** How long to wait for the answer (default 120 s). */
  answerWithinMs?: number;
}

export async function pacedUpload(baseUrl: string, options: PacedUploadOptions): Promise<PacedUpload> {
  const { token, data, filename, type = 'image', bytesPerSecond, tickMs = 50, answerWithinMs = 120_000 } = options;
  const { contentType, body } = multipartBody([{ name: 'media', data, filename }]);
  const socket = await openSocket(baseUrl);
  socket.on('error', () => {});
  const startedAt = performance.now();
  const outcome = readResponse(socket, answerWithinMs).then(
    (response) => ({ response, at: performance.now() - startedAt }),
    (error: Error) => ({ error, at: performance.now() - startedAt }),
  );
  socket.write(Buffer.from([
    `POST /media/upload?access_token=${encodeURIComponent(token)}&type=${type} HTTP/1.1`,
    `Host: ${new URL(baseUrl).host}`,
    `Content-Type: ${contentType}`,
    `Content-Length: ${body.length}`,
    '', '',
  ].join('\r\n')));
  let sent = 0;
  let stopped = false;
  const perTick = Math.max(1, Math.round((bytesPerSecond * tickMs) / 1000));
  const timer = setInterval(() => {
    if (stopped || socket.destroyed || sent >= body.length) {
      clearInterval(timer);
      return;
    }
    // Paced against the clock, not per tick: a late tick sends what is due.
    const due = Math.min(body.length, Math.max(sent + perTick, Math.floor(((performance.now() - startedAt) * bytesPerSecond) / 1000)));
    if (socket.writableLength > 4 * perTick + 65_536) return; // the kernel is full: wait, as a real client blocks
    socket.write(body.subarray(sent, due));
    sent = due;
  }, tickMs);
  void outcome.then(() => clearInterval(timer));
  return {
    socket, body, data, startedAt, outcome,
    sent: () => sent,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The JSON answer of an upload response. */
export function answerOf(response: RawResponse): { errcode: number; errmsg: string; media_id?: string } {
  return JSON.parse(response.body.toString('utf8')) as { errcode: number; errmsg: string; media_id?: string };
}
