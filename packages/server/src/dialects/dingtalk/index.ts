// The DingTalk dialect (api.md "Error codes"): its routes, its answers to errors, unknown paths and
// wrong methods (43001/43002), and its body budget.

import { ApiError, DINGTALK_ERRORS } from '@oapi-media/core';
import type { Dialect } from '../dialect.ts';
import { closeIfOverBudget } from '../../http/body-budget.ts';
import { errorBody, sendCode, sendError, sendFailure } from './answers.ts';
import { registerGetCorpToken } from './get-corp-token.ts';
import { registerGettoken } from './gettoken.ts';
import { registerLargeFiles } from './large-files.ts';
import { registerMediaDownload } from './media-download.ts';
import { registerTus } from './tus.ts';
import { DRAIN_BUDGET_BYTES, registerMediaUpload } from './media-upload.ts';

const OTHER_THAN_GET = ['POST', 'PUT', 'DELETE', 'PATCH'] as const;
const OTHER_THAN_POST = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'] as const;

export const dingtalk: Dialect = {
  name: 'dingtalk',
  basePath: '',
  bodyBudgetBytes: DRAIN_BUDGET_BYTES,

  register(app, { services, config }) {
    app.setErrorHandler(async (error, request, reply) => {
      closeIfOverBudget(request, reply, DRAIN_BUDGET_BYTES);
      return sendFailure(reply, request, error, config);
    });
    registerGettoken(app, services);
    registerMediaUpload(app, services);
    registerMediaDownload(app, services);
    registerGetCorpToken(app, services);
    registerLargeFiles(app, services);
    registerTus(app, services, config);
    const hidden = { schema: { hide: true } };
    for (const url of ['/gettoken', '/media/downloadFile', '/media/get', '/file/upload/transaction', '/file/download']) {
      app.route({ method: [...OTHER_THAN_GET], url, ...hidden, handler: async () => { throw new ApiError('getRequired'); } });
    }
    for (const url of ['/media/upload', '/service/get_corp_token', '/file/upload/single', '/file/upload/chunk']) {
      app.route({ method: [...OTHER_THAN_POST], url, ...hidden, handler: async () => { throw new ApiError('postRequired'); } });
    }
  },

  answerNotFound: (request, reply, { config }) => sendError(reply, request, 'unknownEndpoint', config),

  answerError(error, request, reply, { config }) {
    closeIfOverBudget(request, reply, DRAIN_BUDGET_BYTES);
    return sendFailure(reply, request, error, config);
  },

  answerCode: (code, httpStatus, request, reply, { config }) => sendCode(reply, request, code, httpStatus, config),

  answerMalformedHttp: (kind, requestId, config) => ({ status: DINGTALK_ERRORS[kind].httpStatus, body: errorBody(kind, requestId, config) }),
};
