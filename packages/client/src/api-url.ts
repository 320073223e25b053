// URLs of API calls. The base may carry a path (a reverse proxy's prefix): the API path is
// appended to it rather than replacing it. Parameter values are always encoded.

export function apiUrl(baseUrl: string, path: string, query: Readonly<Record<string, string>>): URL {
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}
