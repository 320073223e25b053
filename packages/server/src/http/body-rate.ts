// The minimum rate of an upload body (issue 15 item 6): the idle timeout restarts on every byte,
// so a client sending one byte just under it would hold its connection (and an upload slot)
// forever. The rate is measured only while the server reads the body: time the request is paused
// because this process cannot keep up (backpressure from busboy or the disk) is not counted
// against the client, nor the time its body waited unread for a slot.

import type { Readable } from 'node:stream';

export interface MinBodyRate {
  /** 0 = no minimum. */
  readonly bytesPerSecond: number;
  readonly windowMs: number;
}

/**
 * Watches `body` while it is read; calls `onTooSlow` once, with what arrived, when a window of
 * `windowMs` reading time brought fewer than `bytesPerSecond` x the window (so a slow body is
 * cut within a window and a tenth of reading). Returns `stop`.
 */
export function watchBodyRate(body: Readable, rate: MinBodyRate, onTooSlow: (receivedBytes: number, overMs: number) => void): () => void {
  if (rate.bytesPerSecond <= 0) return () => {};
  // Sampled, not taken from 'pause'/'resume' events: a pipe resumes its source on 'drain'
  // without emitting 'resume'. Each interval counts as reading time if the body flows at its end.
  const intervalMs = Math.max(20, Math.min(250, rate.windowMs / 10));
  let bytes = 0;
  let readingMs = 0;
  let last = performance.now();
  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
  };
  const check = (): void => {
    const now = performance.now();
    if (body.readableFlowing === true) readingMs += now - last;
    last = now;
    if (readingMs < rate.windowMs) return;
    if (bytes < (rate.bytesPerSecond * readingMs) / 1000) {
      stop();
      onTooSlow(bytes, Math.round(readingMs));
      return;
    }
    bytes = 0; // a new window
    readingMs = 0;
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  body.on('data', onData);
  body.once('end', stop);
  body.once('close', stop);
  function stop(): void {
    clearInterval(timer);
    body.off('data', onData);
    body.off('end', stop);
    body.off('close', stop);
  }
  return stop;
}
