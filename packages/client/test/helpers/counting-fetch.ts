// A fetch that counts the SDK's calls per path and records the errcode of each JSON answer.

export function countingFetch() {
  const calls = new Map<string, number>();
  const errcodes = new Map<string, number[]>();
  const wrapped: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    calls.set(path, (calls.get(path) ?? 0) + 1);
    const response = await fetch(input, init);
    if (response.headers.get('content-type')?.startsWith('application/json')) {
      const body = (await response.clone().json()) as { errcode: number };
      errcodes.set(path, [...(errcodes.get(path) ?? []), body.errcode]);
    }
    return response;
  };
  return { fetch: wrapped, count: (path: string) => calls.get(path) ?? 0, errcodes: (path: string) => errcodes.get(path) ?? [] };
}
