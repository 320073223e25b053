// Audits a metadata store against a blob store through their interfaces, whatever the engines
// (PostgreSQL + disk, SQLite + S3, ...): every media row's blob must exist and hash to the row's
// sha256 with the row's size; every blob must have a row (else it is an orphan). Pass a blob store
// opened straight on the storage (not through a fault proxy) so that the audit sees what is there.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobStore } from '../../../src/stores/blobs/interface.ts';
import type { MediaRow, MetadataStore } from '../../../src/stores/metadata/interface.ts';

export interface StoreAudit {
  rows: number;
  blobs: number;
  /** Blobs that no row references. */
  orphans: string[];
  /** Rows whose blob is missing. */
  missing: string[];
  /** Rows whose blob has other bytes or another size (a partial object). */
  corrupt: string[];
}

async function allRows(metadata: MetadataStore, orgIds: string[]): Promise<MediaRow[]> {
  const rows: MediaRow[] = [];
  for (const orgId of orgIds) {
    let after: string | undefined;
    do {
      const page = await metadata.listMedia(orgId, { limit: 500, ...(after === undefined ? {} : { after }) });
      rows.push(...page.items);
      after = page.next ?? undefined;
    } while (after !== undefined);
  }
  return rows;
}

async function hashOf(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function auditStores(metadata: MetadataStore, blobs: BlobStore, orgIds: string[]): Promise<StoreAudit> {
  const rows = await allRows(metadata, orgIds);
  const missing: string[] = [];
  const corrupt: string[] = [];
  for (const row of rows) {
    try {
      const { sha256, size } = await hashOf(await blobs.get(row.blobKey));
      if (sha256 !== row.sha256 || size !== row.size) corrupt.push(row.mediaId);
    } catch (error) {
      if (error instanceof BlobNotFoundError) missing.push(row.mediaId);
      else throw error;
    }
  }
  const referenced = new Set(rows.map((r) => r.blobKey));
  const keys: string[] = [];
  for await (const blob of blobs.list()) keys.push(blob.key);
  return { rows: rows.length, blobs: keys.length, orphans: keys.filter((k) => !referenced.has(k)), missing, corrupt };
}
