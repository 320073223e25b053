// What a start can fail on that an operator fixes, beside the data folder (data-folder.ts) and the
// port (server.ts): a store that cannot be reached. The CLI shows these as one line (cli/program.ts).

/** The metadata store (DATABASE_URL) could not be reached at start: the message names it, password masked. */
export class MetadataStoreUnreachableError extends Error {
  override name = 'MetadataStoreUnreachableError';
}

/** The blob store (OAPI_MEDIA_STORAGE) could not be reached at start: the message names it, credentials masked. */
export class BlobStoreUnreachableError extends Error {
  override name = 'BlobStoreUnreachableError';
}

/**
 * A URL as it may be shown (CLI errors, logs), as the operator wrote it but for the password of
 * every URL in it (an S3 endpoint inside OAPI_MEDIA_STORAGE too): `scheme://user:***@host`.
 */
export function maskedUrl(text: string): string {
  return text.replace(/(\/\/[^/?#@:\s]*:)[^/?#\s]*@/g, '$1***@');
}
