// The DingTalk dialect: its routes, and its answers to wrong methods (api.md "Error codes": 43001/43002).

import { ApiError } from '@oapi-media/core';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';
import { registerGetCorpToken } from './get-corp-token.ts';
import { registerGettoken } from './gettoken.ts';
import { registerMediaDownload } from './media-download.ts';
import { registerMediaUpload } from './media-upload.ts';

const OTHER_THAN_GET = ['POST', 'PUT', 'DELETE', 'PATCH'] as const;
const OTHER_THAN_POST = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'] as const;

export function registerDingTalk(app: FastifyInstance, services: Services): void {
  registerGettoken(app, services);
  registerMediaUpload(app, services);
  registerMediaDownload(app, services);
  registerGetCorpToken(app, services);
  const hidden = { schema: { hide: true } };
  for (const url of ['/gettoken', '/media/downloadFile', '/media/get']) {
    app.route({ method: [...OTHER_THAN_GET], url, ...hidden, handler: async () => { throw new ApiError('getRequired'); } });
  }
  for (const url of ['/media/upload', '/service/get_corp_token']) {
    app.route({ method: [...OTHER_THAN_POST], url, ...hidden, handler: async () => { throw new ApiError('postRequired'); } });
  }
}
