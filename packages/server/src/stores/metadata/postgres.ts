// MetadataStore on PostgreSQL (issue 7: DATABASE_URL=postgres://...), shared by every node.
// Quotas hold across nodes because the check is one conditional UPDATE of the org's usage row in
// the same transaction as the media insert. pg errors are translated here and never leak above.

import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import {
  ConflictError,
  QuotaExceededError,
  StoreUnavailableError,
  type App,
  type MediaPage,
  type MediaRow,
  type MetadataStore,
  type Org,
  type OrgUsage,
  type Suite,
  type SuiteAuthorization,
  type SuiteTicketRow,
  type TokenRow,
} from './interface.ts';
import { checkMediaPageLimit, decodeMediaCursor, encodeMediaCursor } from './media-cursor.ts';
import { migrateSchema } from './postgres-migrations.ts';

const PG_INT8_OID = 20;
/** Schema names are interpolated into SQL, so only plain lower-case identifiers are accepted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const CONNECT_TIMEOUT_MS = 5_000;
/** referencedBlobKeys sends keys in batches of this many array elements. */
const BLOB_KEY_BATCH = 10_000;

export interface PostgresMetadataStoreOptions {
  /** Where the tables live; created by migrate() when missing. Default `public`. */
  schema?: string;
  /** Pool size per node. Default 10. */
  maxConnections?: number;
}

/**
 * Splits `postgres://user@host:port/db?schema=NAME` (Prisma's spelling, so one DATABASE_URL says
 * everything) into pg's connection string and our schema option; no `schema` = `public`.
 */
export function parsePostgresUrl(url: string): { connectionString: string; schema?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('invalid PostgreSQL URL (postgres://user@host:5432/database)');
  }
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { connectionString: url };
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), schema };
}

/** bigint columns (sizes, epoch ms) as JS numbers: every value we store is below 2^53. */
const numericTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export class PostgresMetadataStore implements MetadataStore {
  readonly schema: string;
  /** Every media's bytes go to the BlobStore (S3): nodes share those, not a local file. */
  readonly inlineMaxBytes = 0;
  private readonly pool: pg.Pool;

  constructor(connectionString: string, options: PostgresMetadataStoreOptions = {}) {
    this.schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(this.schema)) throw new Error(`invalid PostgreSQL schema name: ${this.schema}`);
    this.pool = new pg.Pool({
      connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // synchronous_commit on: COMMIT returns once the WAL is on disk (acknowledged = durable),
      // whatever the role's or the database's default says.
      options: `-c search_path=${this.schema} -c synchronous_commit=on`,
      types: numericTypes,
    });
    // An idle client whose server went away emits 'error'; unhandled it would crash the node.
    // The pool drops that client and the next query reports the outage through translateError.
    this.pool.on('error', () => {});
  }

  async init(): Promise<void> {
    await this.migrate();
  }

  /** Applies pending migrations under an advisory lock; returns the versions it applied. */
  async migrate(): Promise<number[]> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await migrateSchema(client, this.schema);
    } catch (error) {
      broken = error as Error;
      throw translateError(error);
    } finally {
      // A client that failed mid-migration may still hold the lock or a transaction: drop it.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    // Closing twice is harmless, as with the other stores (pg's pool throws on a second end()).
    if (this.pool.ending) return;
    await this.pool.end();
  }

  async ping(): Promise<void> {
    try {
      await this.query('SELECT 1');
    } catch (error) {
      // /readyz: whatever stops a trivial query means the store cannot serve.
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(`PostgreSQL: ${(error as Error).message}`, { cause: error });
    }
  }

  async createOrg(org: Org): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(
        `INSERT INTO orgs (id, name, corp_id, created_at, quota_bytes, rate_limit_per_second)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [org.id, org.name, org.corpId, org.createdAt, org.quotaBytes, org.rateLimitPerSecond],
      );
      await client.query('INSERT INTO org_usage (org_id) VALUES ($1)', [org.id]);
    });
  }

  async getOrgById(id: string): Promise<Org | null> {
    if (cannotBeStored(id)) return null;
    const rows = await this.query<OrgRecord>('SELECT * FROM orgs WHERE id = $1', [id]);
    return rows[0] ? toOrg(rows[0]) : null;
  }

  async getOrgByName(name: string): Promise<Org | null> {
    if (cannotBeStored(name)) return null;
    const rows = await this.query<OrgRecord>('SELECT * FROM orgs WHERE name = $1', [name]);
    return rows[0] ? toOrg(rows[0]) : null;
  }

  async getOrgByCorpId(corpId: string): Promise<Org | null> {
    if (cannotBeStored(corpId)) return null;
    const rows = await this.query<OrgRecord>('SELECT * FROM orgs WHERE corp_id = $1', [corpId]);
    return rows[0] ? toOrg(rows[0]) : null;
  }

  async listOrgs(): Promise<Org[]> {
    return (await this.query<OrgRecord>('SELECT * FROM orgs ORDER BY created_at, name COLLATE "C"')).map(toOrg);
  }

  async updateOrgLimits(id: string, limits: { quotaBytes?: number | null; rateLimitPerSecond?: number | null }): Promise<void> {
    // A limit left undefined keeps its value; null clears it (unlimited / server default).
    await this.query(
      `UPDATE orgs SET
         quota_bytes = CASE WHEN $2 THEN $3::bigint ELSE quota_bytes END,
         rate_limit_per_second = CASE WHEN $4 THEN $5::double precision ELSE rate_limit_per_second END
       WHERE id = $1`,
      [id, limits.quotaBytes !== undefined, limits.quotaBytes ?? null, limits.rateLimitPerSecond !== undefined, limits.rateLimitPerSecond ?? null],
    );
  }

  async createApp(app: App): Promise<void> {
    await this.query(
      'INSERT INTO apps (id, org_id, name, app_key, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [app.id, app.orgId, app.name, app.appKey, app.secretHash, app.createdAt],
    );
  }

  async getAppByKey(appKey: string): Promise<App | null> {
    if (cannotBeStored(appKey)) return null;
    const rows = await this.query<AppRecord>('SELECT * FROM apps WHERE app_key = $1', [appKey]);
    return rows[0] ? toApp(rows[0]) : null;
  }

  async getAppById(id: string): Promise<App | null> {
    if (cannotBeStored(id)) return null;
    const rows = await this.query<AppRecord>('SELECT * FROM apps WHERE id = $1', [id]);
    return rows[0] ? toApp(rows[0]) : null;
  }

  async listApps(orgId?: string): Promise<App[]> {
    const rows =
      orgId === undefined
        ? await this.query<AppRecord>('SELECT * FROM apps ORDER BY created_at, id COLLATE "C"')
        : await this.query<AppRecord>('SELECT * FROM apps WHERE org_id = $1 ORDER BY created_at, id COLLATE "C"', [orgId]);
    return rows.map(toApp);
  }

  async countApps(): Promise<number> {
    const rows = await this.query<{ count: number }>('SELECT count(*)::bigint AS count FROM apps');
    return rows[0]!.count;
  }

  async insertToken(token: TokenRow): Promise<void> {
    await this.query(
      'INSERT INTO tokens (token_hash, nonce, principal, org_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [token.tokenHash, token.nonce, token.principal, token.orgId, token.issuedAt, token.expiresAt],
    );
  }

  async getToken(tokenHash: string): Promise<TokenRow | null> {
    if (cannotBeStored(tokenHash)) return null;
    const rows = await this.query<TokenRecord>('SELECT * FROM tokens WHERE token_hash = $1', [tokenHash]);
    return rows[0] ? toToken(rows[0]) : null;
  }

  async findValidToken(principal: string, orgId: string, now: number): Promise<TokenRow | null> {
    // Valid means now < expires_at (api.md: 42001 once past its 7200 s).
    const rows = await this.query<TokenRecord>(
      `SELECT * FROM tokens WHERE principal = $1 AND org_id = $2 AND expires_at > $3
       ORDER BY issued_at DESC, expires_at DESC, token_hash COLLATE "C" DESC LIMIT 1`,
      [principal, orgId, now],
    );
    return rows[0] ? toToken(rows[0]) : null;
  }

  async renewToken(tokenHash: string, expiresAt: number): Promise<void> {
    await this.query('UPDATE tokens SET expires_at = $2 WHERE token_hash = $1', [tokenHash, expiresAt]);
  }

  async deleteTokens(principal: string, orgId: string): Promise<number> {
    return this.execute('DELETE FROM tokens WHERE principal = $1 AND org_id = $2', [principal, orgId]);
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return this.execute('DELETE FROM tokens WHERE expires_at <= $1', [now]);
  }

  async insertMedia(row: MediaRow, quotaBytes: number | null, inlineBytes?: Buffer): Promise<void> {
    if (inlineBytes !== undefined) throw new Error('postgres store: media bytes go to the blob store (inlineMaxBytes is 0)');
    await this.transaction(async (client) => {
      // The insert first: a duplicate id fails before the usage row is touched.
      await client.query(
        `INSERT INTO media (media_id, org_id, uploaded_by, type, format, file_name, size, sha256, blob_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [row.mediaId, row.orgId, row.uploadedBy, row.type, row.format, row.fileName, row.size, row.sha256, row.blobKey, row.createdAt],
      );
      // Row-locks the org's usage; a concurrent insert waits, then re-checks against the new total.
      const updated = await client.query(
        `UPDATE org_usage SET media_count = media_count + 1, total_bytes = total_bytes + $2
         WHERE org_id = $1 AND ($3::bigint IS NULL OR total_bytes + $2 <= $3::bigint)`,
        [row.orgId, row.size, quotaBytes],
      );
      if (updated.rowCount === 0) {
        throw new QuotaExceededError(`org ${row.orgId}: ${row.size} more bytes would exceed the quota of ${quotaBytes} bytes`);
      }
    });
  }

  async getMedia(mediaId: string): Promise<MediaRow | null> {
    if (cannotBeStored(mediaId)) return null;
    const rows = await this.query<MediaRecord>('SELECT * FROM media WHERE media_id = $1', [mediaId]);
    return rows[0] ? toMedia(rows[0]) : null;
  }

  async getInlineBytes(_mediaId: string): Promise<Buffer | null> {
    return null;
  }

  /** Newest first; the cursor is the last row's "createdAt:mediaId". */
  async listMedia(orgId: string, options: { limit: number; after?: string }): Promise<MediaPage> {
    checkMediaPageLimit(options.limit);
    const cursor = options.after === undefined ? null : decodeMediaCursor(orgId, options.after);
    const rows = await this.query<MediaRecord>(
      `SELECT * FROM media
       WHERE org_id = $1 AND ($2::bigint IS NULL OR (created_at, media_id COLLATE "C") < ($2::bigint, $3::text))
       ORDER BY created_at DESC, media_id COLLATE "C" DESC
       LIMIT $4`,
      [orgId, cursor?.createdAt ?? null, cursor?.mediaId ?? null, options.limit + 1],
    );
    const items = rows.slice(0, options.limit).map(toMedia);
    const last = items[items.length - 1];
    return { items, next: rows.length > options.limit && last ? encodeMediaCursor(orgId, last) : null };
  }

  async deleteMedia(mediaId: string): Promise<MediaRow | null> {
    if (cannotBeStored(mediaId)) return null;
    return this.transaction(async (client) => {
      const { rows } = await client.query<MediaRecord>('DELETE FROM media WHERE media_id = $1 RETURNING *', [mediaId]);
      const row = rows[0];
      if (!row) return null;
      await client.query('UPDATE org_usage SET media_count = media_count - 1, total_bytes = total_bytes - $2 WHERE org_id = $1', [row.org_id, row.size]);
      return toMedia(row);
    });
  }

  async usage(orgId: string): Promise<OrgUsage> {
    const rows = await this.query<{ media_count: number; total_bytes: number }>('SELECT media_count, total_bytes FROM org_usage WHERE org_id = $1', [orgId]);
    return { mediaCount: rows[0]?.media_count ?? 0, totalBytes: rows[0]?.total_bytes ?? 0 };
  }

  async referencedBlobKeys(blobKeys: string[]): Promise<Set<string>> {
    const referenced = new Set<string>();
    for (let i = 0; i < blobKeys.length; i += BLOB_KEY_BATCH) {
      const rows = await this.query<{ blob_key: string }>('SELECT DISTINCT blob_key FROM media WHERE blob_key = ANY($1::text[])', [blobKeys.slice(i, i + BLOB_KEY_BATCH)]);
      for (const row of rows) referenced.add(row.blob_key);
    }
    return referenced;
  }

  async createSuite(suite: Suite): Promise<void> {
    await this.query(
      'INSERT INTO suites (id, name, suite_key, secret_ciphertext, created_at) VALUES ($1, $2, $3, $4, $5)',
      [suite.id, suite.name, suite.suiteKey, suite.secretCiphertext, suite.createdAt],
    );
  }

  async getSuiteByKey(suiteKey: string): Promise<Suite | null> {
    if (cannotBeStored(suiteKey)) return null;
    const rows = await this.query<SuiteRecord>('SELECT * FROM suites WHERE suite_key = $1', [suiteKey]);
    return rows[0] ? toSuite(rows[0]) : null;
  }

  async listSuites(): Promise<Suite[]> {
    return (await this.query<SuiteRecord>('SELECT * FROM suites ORDER BY created_at, id COLLATE "C"')).map(toSuite);
  }

  async authorizeSuite(a: SuiteAuthorization): Promise<void> {
    await this.query(
      'INSERT INTO suite_authorizations (suite_id, org_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [a.suiteId, a.orgId, a.createdAt],
    );
  }

  async isSuiteAuthorized(suiteId: string, orgId: string): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM suite_authorizations WHERE suite_id = $1 AND org_id = $2', [suiteId, orgId]);
    return rows.length > 0;
  }

  async revokeSuite(suiteId: string, orgId: string): Promise<boolean> {
    return (await this.execute('DELETE FROM suite_authorizations WHERE suite_id = $1 AND org_id = $2', [suiteId, orgId])) > 0;
  }

  async listSuiteAuthorizations(suiteId: string): Promise<SuiteAuthorization[]> {
    const rows = await this.query<SuiteAuthorizationRecord>(
      'SELECT * FROM suite_authorizations WHERE suite_id = $1 ORDER BY created_at, org_id COLLATE "C"',
      [suiteId],
    );
    return rows.map(toSuiteAuthorization);
  }

  async addSuiteTicket(t: SuiteTicketRow, keep: number): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(
        'INSERT INTO suite_tickets (suite_id, seq, ticket_hash, nonce, created_at) VALUES ($1, $2, $3, $4, $5)',
        [t.suiteId, t.seq, t.ticketHash, t.nonce, t.createdAt],
      );
      await client.query('DELETE FROM suite_tickets WHERE suite_id = $1 AND seq <= $2', [t.suiteId, t.seq - keep]);
    });
  }

  async latestSuiteTickets(suiteId: string, limit: number): Promise<SuiteTicketRow[]> {
    const rows = await this.query<SuiteTicketRecord>(
      'SELECT * FROM suite_tickets WHERE suite_id = $1 ORDER BY seq DESC LIMIT $2',
      [suiteId, limit],
    );
    return rows.map(toSuiteTicket);
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw translateError(error);
    }
  }

  private async query<Row extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(sql, params)).rows;
    } catch (error) {
      throw translateError(error);
    }
  }

  /** Runs a statement and returns how many rows it touched. */
  private async execute(sql: string, params: unknown[]): Promise<number> {
    try {
      return (await this.pool.query(sql, params)).rowCount ?? 0;
    } catch (error) {
      throw translateError(error);
    }
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw translateError(error);
    } finally {
      client.release(broken);
    }
  }
}

/** PostgreSQL text cannot hold U+0000 (22021): no row has such a key, so its lookup finds none. */
function cannotBeStored(key: string): boolean {
  return key.includes('\0');
}

/**
 * SQLSTATE classes meaning the engine cannot or will not answer: 08 connection, 28 authorization,
 * 3D unknown database, 53 resources, 57 operator intervention (shutdown), 58 system.
 */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(['08', '28', '3D', '53', '57', '58']);
const UNIQUE_VIOLATION = '23505';

function translateError(error: unknown): Error {
  if (error instanceof QuotaExceededError || error instanceof ConflictError || error instanceof StoreUnavailableError) return error;
  if (!(error instanceof Error)) return new StoreUnavailableError(`PostgreSQL: ${String(error)}`);
  const code = (error as { code?: unknown }).code;
  if (code === UNIQUE_VIOLATION) {
    return new ConflictError(`already exists (${(error as { constraint?: string }).constraint ?? 'unique key'})`);
  }
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    if (UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2))) return new StoreUnavailableError(`PostgreSQL unavailable: ${error.message}`, { cause: error });
    // Any other SQL error is a bug of ours or a schema drift: keep its message, lose the driver type.
    return new Error(`PostgreSQL error ${code}: ${error.message}`, { cause: error });
  }
  // No SQLSTATE: the socket (ECONNREFUSED, ECONNRESET, ...), a pool timeout, a dropped connection,
  // or a store already closed ("Cannot use a pool after calling end on the pool").
  if (typeof code === 'string' || /connect|terminat|timeout|ended|closed|calling end/i.test(error.message)) {
    return new StoreUnavailableError(`PostgreSQL unreachable: ${error.message}`, { cause: error });
  }
  return error;
}

interface OrgRecord {
  id: string;
  name: string;
  corp_id: string;
  created_at: number;
  quota_bytes: number | null;
  rate_limit_per_second: number | null;
}

interface AppRecord {
  id: string;
  org_id: string;
  name: string;
  app_key: string;
  secret_hash: string;
  created_at: number;
}

interface TokenRecord {
  token_hash: string;
  nonce: string;
  principal: string;
  org_id: string;
  issued_at: number;
  expires_at: number;
}

interface MediaRecord {
  media_id: string;
  org_id: string;
  uploaded_by: string;
  type: MediaRow['type'];
  format: MediaRow['format'];
  file_name: string;
  size: number;
  sha256: string;
  blob_key: string;
  created_at: number;
}

interface SuiteRecord {
  id: string;
  name: string;
  suite_key: string;
  secret_ciphertext: string;
  created_at: number;
}

interface SuiteAuthorizationRecord {
  suite_id: string;
  org_id: string;
  created_at: number;
}

interface SuiteTicketRecord {
  suite_id: string;
  seq: number;
  ticket_hash: string;
  nonce: string;
  created_at: number;
}

function toSuite(r: SuiteRecord): Suite {
  return { id: r.id, name: r.name, suiteKey: r.suite_key, secretCiphertext: r.secret_ciphertext, createdAt: r.created_at };
}

function toSuiteAuthorization(r: SuiteAuthorizationRecord): SuiteAuthorization {
  return { suiteId: r.suite_id, orgId: r.org_id, createdAt: r.created_at };
}

function toSuiteTicket(r: SuiteTicketRecord): SuiteTicketRow {
  return { suiteId: r.suite_id, seq: r.seq, ticketHash: r.ticket_hash, nonce: r.nonce, createdAt: r.created_at };
}

function toOrg(r: OrgRecord): Org {
  return { id: r.id, name: r.name, corpId: r.corp_id, createdAt: r.created_at, quotaBytes: r.quota_bytes, rateLimitPerSecond: r.rate_limit_per_second };
}

function toApp(r: AppRecord): App {
  return { id: r.id, orgId: r.org_id, name: r.name, appKey: r.app_key, secretHash: r.secret_hash, createdAt: r.created_at };
}

function toToken(r: TokenRecord): TokenRow {
  return { tokenHash: r.token_hash, nonce: r.nonce, principal: r.principal, orgId: r.org_id, issuedAt: r.issued_at, expiresAt: r.expires_at };
}

function toMedia(r: MediaRecord): MediaRow {
  return {
    mediaId: r.media_id,
    orgId: r.org_id,
    uploadedBy: r.uploaded_by,
    type: r.type,
    format: r.format,
    fileName: r.file_name,
    size: r.size,
    sha256: r.sha256,
    blobKey: r.blob_key,
    createdAt: r.created_at,
  };
}
