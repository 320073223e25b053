// Secrets never reach the logs. The query is parsed as the routes parse it (percent-decoding
// included, so `app%73ecret=` is the appsecret it means) and only parameters known to be harmless
// keep their values; every other value, and any odd parameter name, is masked. An allow-list, not
// a deny-list: a wire added later cannot leak a secret parameter nobody thought to list.

/** Parameters whose values are not secrets: ids, names, types, timestamps. */
const LOGGED_PARAMS: ReadonlySet<string> = new Set([
  'type', 'media_id', 'appkey', 'corpid', 'accessKey', 'timestamp', 'auth_corpid',
  'agent_id', 'file_size', 'chunk_numbers', 'chunk_sequence', 'upload_id',
]);

const PLAIN_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MASK = '[redacted]';

/** Paths whose last segment is a capability (a published image's URL key: whoever has it reads the image). */
const CAPABILITY_PATH = /(\/media\/img\/)[^/?#]+/;

export function redactUrl(url: string): string {
  url = url.replace(CAPABILITY_PATH, `$1${MASK}`);
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const hash = url.indexOf('#', mark);
  const query = url.slice(mark + 1, hash < 0 ? undefined : hash);
  const parts: string[] = [];
  for (const [name, value] of new URLSearchParams(query)) {
    if (!PLAIN_NAME.test(name)) parts.push(MASK);
    else parts.push(`${name}=${LOGGED_PARAMS.has(name) ? encodeURIComponent(value).replace(/%40/g, '@') : MASK}`);
  }
  return `${url.slice(0, mark)}?${parts.join('&')}`;
}
