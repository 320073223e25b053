// POST /service/get_corp_token?accessKey=SUITE_KEY&timestamp=MS&suiteTicket=TICKET&signature=SIG
// with JSON body {"auth_corpid":"CORPID"}: a third-party suite's access_token for one authorizing
// organization (issue 8, docs/suites.md).

import type { FastifyInstance } from 'fastify';
import { param } from '../../http/params.ts';
import type { DialectServices } from '../../service/dialect-services.ts';
import { NO_SECURITY, NOT_AN_API_CALL_RESPONSES, sendOk, TOKEN_ANSWER_SCHEMA } from './answers.ts';
import { readSmallBody } from '../../http/small-body.ts';

export const getCorpTokenSchema = {
  operationId: 'getCorpToken',
  tags: ['DingTalk'],
  security: NO_SECURITY,
  body: {
    type: 'object',
    properties: { auth_corpid: { type: 'string', description: 'the corpid of the authorizing organization' } },
    required: ['auth_corpid'],
  },
  summary: 'Get the access_token (7200 s) of a third-party suite for one authorizing organization',
  consumes: ['application/json'],
  querystring: {
    type: 'object',
    properties: {
      accessKey: { type: 'string', description: 'the suiteKey' },
      timestamp: { type: 'string', description: 'epoch milliseconds, within a minute of the server clock' },
      suiteTicket: { type: 'string', description: 'the current suite ticket (or the one before it)' },
      signature: { type: 'string', description: 'URL-encoded Base64 of HMAC-SHA256(suiteSecret, timestamp + "\\n" + suiteTicket)' },
    },
  },
  response: { 200: TOKEN_ANSWER_SCHEMA, ...NOT_AN_API_CALL_RESPONSES },
} as const;

/** The body is one small JSON object; anything longer is not a get_corp_token request. */
const BODY_LIMIT_BYTES = 16 * 1024;

/**
 * auth_corpid from the JSON body (DingTalk's documented form), else from a urlencoded body or the
 * query (what some SDKs send); undefined when none has it.
 */
function authCorpIdOf(body: string | undefined, contentType: string, query: unknown): string | undefined {
  const text = body?.trim() ?? '';
  if (text.startsWith('{')) {
    try {
      const value = (JSON.parse(text) as Record<string, unknown>).auth_corpid;
      if (typeof value === 'string') return value;
    } catch {
      // Not JSON after all: the other places may still have it.
    }
  } else if (/^application\/x-www-form-urlencoded\b/i.test(contentType) && text !== '') {
    const value = new URLSearchParams(text).get('auth_corpid');
    if (value !== null) return value;
  }
  return param(query, 'auth_corpid');
}

export function registerGetCorpToken(app: FastifyInstance, services: DialectServices): void {
  app.post('/service/get_corp_token', { schema: getCorpTokenSchema, attachValidation: true }, async (request, reply) => {
    const q = request.query;
    const body = await readSmallBody(request, BODY_LIMIT_BYTES);
    const grant = await services.access.tokenForSuite(request.ip, {
      accessKey: param(q, 'accessKey'),
      timestamp: param(q, 'timestamp'),
      suiteTicket: param(q, 'suiteTicket'),
      signature: param(q, 'signature'),
      authCorpId: authCorpIdOf(body, request.headers['content-type'] ?? '', q),
    });
    return sendOk(reply, { access_token: grant.accessToken, expires_in: grant.expiresIn });
  });
}
