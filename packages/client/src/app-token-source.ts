// Access tokens of an internal app: GET /gettoken?appkey=&appsecret= (api.md "GET /gettoken").
// Cached, refreshed and fetched one at a time by CachingTokenSource; this only builds the request.

import { apiUrl } from './api-url.ts';
import { CachingTokenSource, type CachingTokenSourceOptions } from './caching-token-source.ts';

export interface AppTokenSourceOptions extends CachingTokenSourceOptions {
  baseUrl: string;
  appKey: string;
  appSecret: string;
}

export class AppTokenSource extends CachingTokenSource {
  constructor(options: AppTokenSourceOptions) {
    const { baseUrl, appKey, appSecret } = options;
    super(options, async () => ({
      url: apiUrl(baseUrl, '/gettoken', { appkey: appKey, appsecret: appSecret }),
      init: { method: 'GET' },
      name: 'GET /gettoken',
      answerName: '/gettoken',
    }));
  }
}
