// What a wire (dialect) is to the server: a Fastify plugin that owns its routes, its answers to
// errors and unknown paths, its token extraction, its limits and its body budget. It reaches the
// product only through DialectServices (service/dialect-services.ts), never a store.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import type { MalformedHttpKind, RawAnswer } from '../http/client-errors.ts';
import type { DialectServices } from '../service/dialect-services.ts';

export interface DialectContext {
  services: DialectServices;
  config: Config;
}

export interface Dialect {
  readonly name: string;
  /**
   * Where the wire's own paths start ('' for DingTalk's root paths, '/cgi-bin' for WeCom's): its
   * routes are mounted under the configured prefix plus this, and so is its not-found answer.
   */
  readonly basePath: string;
  /** Where under its prefix all of its routes are when that is narrower than basePath (Feishu: /open-apis): which wire a path is. */
  readonly routesUnder?: string;
  /**
   * The most a request of this wire may send past an early answer (e.g. "too large" mid-upload)
   * before the connection is cut rather than read to its end and dropped.
   */
  readonly bodyBudgetBytes: number;
  /**
   * Registers the wire's routes in its own encapsulated context (already under its prefix), with
   * its own error handler. The server sets the wire's not-found answer for its prefix.
   */
  register(app: FastifyInstance, context: DialectContext): Promise<void> | void;
  /** The wire's answer to a request that matched no route under its prefix. */
  answerNotFound(request: FastifyRequest, reply: FastifyReply, context: DialectContext): FastifyReply;
  /** The wire's answer to a failure outside its routes (e.g. a malformed URL), for the root prefix. */
  answerError(error: unknown, request: FastifyRequest, reply: FastifyReply, context: DialectContext): FastifyReply;
  /**
   * The wire's answer carrying `code` (its errcode or Feishu code) as an injected fault of the
   * emulator: that code's entry of the wire's table when it has one (its message, its HTTP status
   * unless `httpStatus` is given), else the code with a generic message.
   */
  answerCode(code: number, httpStatus: number | undefined, request: FastifyRequest, reply: FastifyReply, context: DialectContext): FastifyReply;
  /** The wire's answer to HTTP that Node's parser refused before it was a request, for the root prefix. */
  answerMalformedHttp(kind: MalformedHttpKind, requestId: string, config: Config): RawAnswer;
}
