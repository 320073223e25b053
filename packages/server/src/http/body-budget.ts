// After an early answer (e.g. "too large" mid-upload) Node reads and drops the rest of the body to
// keep the connection usable; a client that keeps sending past the wire's budget, or for longer
// than the drain timeout, is cut off instead.

import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** After an early answer, the rest of a body is read and dropped for at most this long. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Requests whose body was cut for its rate (body-rate.ts): the rest is not waited for. */
const cutBodies = new WeakSet<IncomingMessage>();

/** The body of `request` was cut: its answer closes the connection, the rest is never drained. */
export function markBodyCut(request: IncomingMessage): void {
  cutBodies.add(request);
}

/** An answer given before a body this much over budget was read, or to a cut one, closes the connection. */
export function closeIfOverBudget(request: FastifyRequest, reply: FastifyReply, budgetBytes: number): void {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (!request.raw.complete && (declared > budgetBytes || cutBodies.has(request.raw))) reply.header('connection', 'close');
}

/** Reads and drops what is left of an answered request's body, within `budgetBytes` and the timeout. */
export function guardDrain(request: IncomingMessage, budgetBytes: number): void {
  // readableEnded: a body the route read to its end (fastify inject never sets `complete`).
  if (request.complete || request.readableEnded || request.destroyed) return;
  if (cutBodies.has(request)) {
    request.socket?.destroySoon(); // the answer (written) goes out, then the connection ends
    return;
  }
  let drained = 0;
  const timer = setTimeout(() => request.socket?.destroy(), DRAIN_TIMEOUT_MS);
  timer.unref();
  request.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > budgetBytes) request.socket?.destroy();
  });
  request.once('end', () => clearTimeout(timer));
  request.once('close', () => clearTimeout(timer));
  request.resume();
}
