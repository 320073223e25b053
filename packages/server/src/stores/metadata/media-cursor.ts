// The listMedia cursor, the same on every engine: the last listed row's (createdAt, mediaId) and
// the org it was listed for, as base64url JSON. Opaque to callers; anything else is refused with
// InvalidCursorError, so a stale or tampered cursor never turns into an empty page or a 500.

import { InvalidCursorError, type MediaPage, type MediaRow } from './interface.ts';

export interface MediaCursor {
  createdAt: number;
  mediaId: string;
}

export function encodeMediaCursor(orgId: string, last: MediaCursor): string {
  return Buffer.from(JSON.stringify([orgId, last.createdAt, last.mediaId])).toString('base64url');
}

export function decodeMediaCursor(orgId: string, cursor: string): MediaCursor {
  let decoded: unknown;
  try {
    const text = Buffer.from(cursor, 'base64url').toString('utf8');
    // base64url decoding skips what is not of its alphabet: re-encode to refuse such input.
    if (Buffer.from(text).toString('base64url') !== cursor) throw new Error('not base64url');
    decoded = JSON.parse(text);
  } catch {
    throw new InvalidCursorError('invalid media list cursor');
  }
  if (!Array.isArray(decoded) || decoded.length !== 3) throw new InvalidCursorError('invalid media list cursor');
  const [cursorOrg, createdAt, mediaId] = decoded as unknown[];
  if (typeof cursorOrg !== 'string' || !Number.isSafeInteger(createdAt) || typeof mediaId !== 'string') {
    throw new InvalidCursorError('invalid media list cursor');
  }
  if (cursorOrg !== orgId) throw new InvalidCursorError('this cursor lists another organization');
  return { createdAt: createdAt as number, mediaId };
}

/** listMedia's page size: a programmer's mistake, not an engine's, so the same RangeError everywhere. */
export function checkMediaPageLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`listMedia limit must be a positive integer, not ${limit}`);
}

/** A page from `limit + 1` rows in listing order: the extra row only says that there is a next page. */
export function mediaPage(orgId: string, rows: MediaRow[], limit: number): MediaPage {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  return { items, next: encodeMediaCursor(orgId, items[limit - 1]!) };
}
