// One log line per request, written when it is answered: method, URL (secrets masked), status,
// time, the errcode answered and what the route noted (media_id, reason). Fastify's default is a
// line when a request comes in and another when it is answered.

import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { redactUrl } from './redact.ts';

const notes = new WeakMap<object, Record<string, unknown>>();

/** Adds fields to the request's one log line (and `errcode` to its metrics). */
export function noteOnRequest(request: FastifyRequest, fields: Record<string, unknown>): void {
  notes.set(request, { ...notes.get(request), ...fields });
}

/** Everything the routes noted on the request (media_id, errcode, errorKind, …), for the emulator's journal. */
export function requestNotes(request: FastifyRequest): Readonly<Record<string, unknown>> {
  return notes.get(request) ?? {};
}

/** What the routes note that metrics count: the error kind answered, bytes stored, bytes sent. */
export interface RequestFacts {
  errorKind: string | undefined;
  storedBytes: number | undefined;
  storedType: string | undefined;
  sentBytes: number | undefined;
}

export function requestFacts(request: FastifyRequest): RequestFacts {
  const note = notes.get(request) ?? {};
  const numberOf = (value: unknown) => (typeof value === 'number' ? value : undefined);
  return {
    errorKind: typeof note.errorKind === 'string' ? note.errorKind : undefined,
    storedBytes: note.mediaId === undefined ? undefined : numberOf(note.size),
    storedType: typeof note.type === 'string' ? note.type : undefined,
    sentBytes: numberOf(note.sentBytes),
  };
}

/** The errcode the request was answered with: 0 unless an error was noted. */
export function answeredErrcode(request: FastifyRequest): number {
  const errcode = notes.get(request)?.errcode;
  return typeof errcode === 'number' ? errcode : 0;
}

export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = {
      // Fastify's req serializer makes this { method, url, remoteAddress }: the URL with secrets masked.
      req: { method: request.method, url: redactUrl(request.url), ip: request.ip },
      res: { statusCode: reply.statusCode },
      responseTime: reply.elapsedTime,
      ...notes.get(request),
    };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}
