// The app credentials of the CLI: flags win over the environment. They are only passed to
// the client, never printed (the `token` command prints the access token, not the secret).

export interface Credentials {
  appKey: string;
  appSecret: string;
}

export class MissingCredentialsError extends Error {
  override name = 'MissingCredentialsError';
}

export function resolveCredentials(flags: { appkey?: string; appsecret?: string }, env: NodeJS.ProcessEnv): Credentials {
  const appKey = flags.appkey ?? env.DINGTALK_APPKEY;
  const appSecret = flags.appsecret ?? env.DINGTALK_APPSECRET;
  const missing = [!appKey && 'appkey (--appkey or DINGTALK_APPKEY)', !appSecret && 'appsecret (--appsecret or DINGTALK_APPSECRET)'].filter(Boolean);
  if (missing.length > 0) throw new MissingCredentialsError(`missing ${missing.join(' and ')}`);
  return { appKey: appKey!, appSecret: appSecret! };
}
