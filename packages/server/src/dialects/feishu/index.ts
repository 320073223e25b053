// The Feishu / Lark dialect (docs/api.md "Feishu"): /open-apis token, image and file calls, answered
// with Feishu's codes and HTTP 400/401/429 (core wires/feishu.ts), its unknown paths and wrong
// methods in its shape, and its body budget.

import { ApiError, FEISHU_ERRORS } from '@oapi-media/core';
import type { Dialect } from '../dialect.ts';
import { closeIfOverBudget } from '../../http/body-budget.ts';
import { sendCode, sendError, sendFailure } from './answers.ts';
import { registerMediaDownload } from './media-download.ts';
import { DRAIN_BUDGET_BYTES, registerMediaUpload } from './media-upload.ts';
import { registerToken } from './token.ts';

const OTHER_THAN_GET = ['POST', 'PUT', 'DELETE', 'PATCH'] as const;
const OTHER_THAN_POST = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'] as const;

export const feishu: Dialect = {
  name: 'feishu',
  // Its routes name their whole path (/open-apis/...), with a catch-all for its unknown paths.
  basePath: '',
  routesUnder: '/open-apis',
  bodyBudgetBytes: DRAIN_BUDGET_BYTES,

  register(app, { services }) {
    app.setErrorHandler(async (error, request, reply) => {
      closeIfOverBudget(request, reply, DRAIN_BUDGET_BYTES);
      return sendFailure(reply, request, error);
    });
    registerToken(app, services);
    registerMediaUpload(app, services);
    registerMediaDownload(app, services);
    const hidden = { schema: { hide: true } };
    for (const url of ['/open-apis/im/v1/images/:image_key', '/open-apis/im/v1/files/:file_key']) {
      app.route({ method: [...OTHER_THAN_GET], url, ...hidden, handler: async () => { throw new ApiError('getRequired'); } });
    }
    for (const url of ['/open-apis/auth/v3/tenant_access_token/internal', '/open-apis/auth/v3/app_access_token/internal', '/open-apis/im/v1/images', '/open-apis/im/v1/files']) {
      app.route({ method: [...OTHER_THAN_POST], url, ...hidden, handler: async () => { throw new ApiError('postRequired'); } });
    }
    // Under /open-apis every unknown path is Feishu's, whichever wire answers the root's.
    app.all('/open-apis/*', hidden, async () => { throw new ApiError('unknownEndpoint'); });
  },

  answerNotFound: (request, reply) => sendError(reply, request, 'unknownEndpoint'),

  answerError(error, request, reply) {
    closeIfOverBudget(request, reply, DRAIN_BUDGET_BYTES);
    return sendFailure(reply, request, error);
  },

  answerCode: (code, httpStatus, request, reply) => sendCode(reply, request, code, httpStatus),

  answerMalformedHttp: (kind, requestId) => {
    const { code, msg, httpStatus } = FEISHU_ERRORS[kind];
    return { status: httpStatus, body: JSON.stringify({ code, msg, error: { log_id: requestId } }) };
  },
};
