// The WeCom dialect (企业微信, docs/api.md "WeCom"): its routes under its base path /cgi-bin, its
// answers to errors, unknown paths and wrong methods (43001/43002), and its body budget.

import { ApiError, WECOM_ERRORS } from '@oapi-media/core';
import type { Dialect } from '../dialect.ts';
import { closeIfOverBudget } from '../../http/body-budget.ts';
import { rawErrorBody, sendCode, sendError, sendFailure } from './answers.ts';
import { registerGettoken } from './gettoken.ts';
import { PublishedImageMissing, registerMediaDownload } from './media-download.ts';
import { DRAIN_BUDGET_BYTES, registerMediaUpload } from './media-upload.ts';

const OTHER_THAN_GET = ['POST', 'PUT', 'DELETE', 'PATCH'] as const;
const OTHER_THAN_POST = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'] as const;

export const wecom: Dialect = {
  name: 'wecom',
  basePath: '/cgi-bin',
  bodyBudgetBytes: DRAIN_BUDGET_BYTES,

  register(app, { services, config }) {
    app.setErrorHandler(async (error, request, reply) => {
      closeIfOverBudget(request, reply, DRAIN_BUDGET_BYTES);
      // A published image's URL is fetched by browsers and caches, not SDKs: a missing one is a 404.
      if (error instanceof PublishedImageMissing) return sendFailure(reply, request, error.cause, config, 404);
      return sendFailure(reply, request, error, config);
    });
    registerGettoken(app, services);
    registerMediaUpload(app, services);
    registerMediaDownload(app, services, config.now);
    const hidden = { schema: { hide: true } };
    // /gettoken has fastify's generated HEAD; the downloads have none (it would read the whole blob).
    for (const [url, methods] of [['/gettoken', OTHER_THAN_GET], ['/media/get', [...OTHER_THAN_GET, 'HEAD']]] as const) {
      app.route({ method: [...methods], url, ...hidden, handler: async () => { throw new ApiError('getRequired'); } });
    }
    for (const url of ['/media/upload', '/media/uploadimg']) {
      app.route({ method: [...OTHER_THAN_POST], url, ...hidden, handler: async () => { throw new ApiError('postRequired'); } });
    }
  },

  answerNotFound: (request, reply, { config }) => sendError(reply, request, 'unknownEndpoint', config),

  answerError(error, request, reply, { config }) {
    closeIfOverBudget(request, reply, DRAIN_BUDGET_BYTES);
    return sendFailure(reply, request, error, config);
  },

  answerCode: (code, httpStatus, request, reply, { config }) => sendCode(reply, request, code, httpStatus, config),

  answerMalformedHttp: (kind, requestId, config) => ({ status: WECOM_ERRORS[kind].httpStatus, body: rawErrorBody(kind, requestId, config) }),
};
