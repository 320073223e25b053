// Secrets never reach the logs: token, app secret and suite signature values are masked in URLs.

const SECRET_PARAMS = /([?&](?:access_token|appsecret|corpsecret|suiteTicket|signature)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}
