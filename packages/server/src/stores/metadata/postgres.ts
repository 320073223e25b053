// MetadataStore on PostgreSQL (issue 7: DATABASE_URL=postgres://...), shared by every node.
// Quotas hold across nodes because the check is one conditional UPDATE of the org's usage row in
// the same transaction as the media insert. pg errors are translated here and never leak above.

import { sql } from 'kysely';
import pg from 'pg';
import type { PoolClient } from 'pg';
import {
  CommitOutcomeUnknownError,
  ConflictError,
  QuotaExceededError,
  StoreUnavailableError,
  UploadSessionGoneError,
  type App,
  type DeletedOrg,
  type MediaPage,
  type MediaRow,
  type MetadataStore,
  type Org,
  type OrgUsage,
  type Suite,
  type SuiteAuthorization,
  type SuiteTicketRow,
  type TokenRow,
  type UploadChunkRow,
  type UploadProgress,
  type UploadSessionRow,
} from './interface.ts';
import { checkMediaPageLimit, decodeMediaCursor, mediaPage } from './media-cursor.ts';
import { migrateSchema } from './postgres-migrations.ts';
import { sharedStatements, statementCompiler, type Statement } from './statements.ts';

const PG_INT8_OID = 20;
/** Schema names are interpolated into SQL, so only plain lower-case identifiers are accepted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** config.ts DEFAULT_DATABASE_TIMEOUT_MS (the store is also built without a Config, e.g. by tests). */
const DEFAULT_TIMEOUT_MS = 10_000;
/** referencedBlobKeys sends keys in batches of this many array elements. */
const BLOB_KEY_BATCH = 10_000;

export interface PostgresMetadataStoreOptions {
  /** Where the tables live; created by migrate() when missing. Default `public`. */
  schema?: string;
  /** Pool size per node. Default 10. */
  maxConnections?: number;
  /**
   * Longest wait for a pool connection, and for the answer to each statement of a request
   * (client side: migrations, which may legitimately take long, are not bounded). Default 10 s.
   */
  timeoutMs?: number;
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

/** What is PostgreSQL's alone: the quota check inside the usage UPDATE, keys matched as an array. */
function postgresStatements() {
  const { db, define } = statementCompiler('postgres');
  return {
    ...sharedStatements('postgres'),
    /** Row-locks the org's usage; a concurrent insert waits, then re-checks against the new total. */
    growUsageWithinQuota: define<{ orgId: string; bytes: number; quotaBytes: number }, never>((a) => db.updateTable('org_usage')
      .set((eb) => ({ media_count: eb('media_count', '+', sql.lit(1)), total_bytes: eb('total_bytes', '+', a.bytes) }))
      .where('org_id', '=', a.orgId).where(sql<boolean>`total_bytes + reserved_bytes + ${a.bytes} <= ${a.quotaBytes}`)),
    chunkKeysReferenced: define<{ blobKeys: string[] }, { blobKey: string }>((a) => db.selectFrom('upload_chunks')
      .select('blob_key as blobKey').where(sql<boolean>`blob_key = any(${a.blobKeys}::text[])`)),
    /** addUploadChunk: the session row locked, so that a concurrent commit or delete waits. */
    lockUploadSession: define<{ id: string }, { one: number }>((a) => db.selectFrom('upload_sessions').select(sql<number>`1`.as('one')).where('id', '=', a.id).forUpdate()),
    referencedBlobKeys: define<{ blobKeys: string[] }, { blobKey: string }>((a) => db.selectFrom('media')
      .select('blob_key as blobKey').distinct().where(sql<boolean>`blob_key = any(${a.blobKeys}::text[])`)),
    ping: define<object, { one: number }>(() => db.selectNoFrom(sql<number>`1`.as('one'))),
    /** deleteOrg: the org row locked for the transaction. */
    lockOrg: define<{ id: string }, { one: number }>((a) => db.selectFrom('orgs').select(sql<number>`1`.as('one')).where('id', '=', a.id).forUpdate()),
  };
}

const STATEMENTS = postgresStatements();
type Args<S> = S extends Statement<infer A, unknown> ? A : never;
type Row<S> = S extends Statement<object, infer R> ? R : never;

/** A pool or one transaction's client: both run a statement. */
type Queryable = pg.Pool | PoolClient;

export class PostgresMetadataStore implements MetadataStore {
  readonly schema: string;
  /** Every media's bytes go to the BlobStore (S3): nodes share those, not a local file. */
  readonly inlineMaxBytes = 0;
  private readonly pool: pg.Pool;
  private readonly timeoutMs: number;

  constructor(connectionString: string, options: PostgresMetadataStoreOptions = {}) {
    this.schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(this.schema)) throw new Error(`invalid PostgreSQL schema name: ${this.schema}`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.pool = new pg.Pool({
      connectionString,
      max: options.maxConnections ?? 10,
      // A stopped server refuses at once; one that accepts but never answers (or a pool whose
      // connections are all busy) is given up after this, so a request answers -1 instead of hanging.
      connectionTimeoutMillis: this.timeoutMs,
      // A peer that vanished without a FIN (host down, network cut) is noticed by TCP keepalive.
      keepAlive: true,
      // synchronous_commit on: COMMIT returns once the WAL is on disk (acknowledged = durable),
      // whatever the role's or the database's default says.
      options: `-c search_path=${this.schema} -c synchronous_commit=on`,
      types: numericTypes,
    });
    // An idle client whose server went away emits 'error'; unhandled it would crash the node.
    // The pool drops that client and the next query reports the outage through translateError.
    this.pool.on('error', () => {});
    // And a client the pool has just removed (released broken, or ended) can still receive the
    // server's FATAL 57P01 on its socket when the server restarts: with no listener left, that
    // 'error' ended the process (found by the PostgreSQL outage drill). Every client keeps one.
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  async init(): Promise<void> {
    await this.migrate();
  }

  /** Applies pending migrations under an advisory lock; returns the versions it applied. */
  async migrate(): Promise<number[]> {
    return this.withClient(async (client) => {
      try {
        return await migrateSchema(client, this.schema);
      } catch (error) {
        // A client that failed mid-migration may still hold the lock or a transaction: drop it.
        throw new BrokenClientError(translateError(error));
      }
    }).catch((error: unknown) => {
      throw error instanceof BrokenClientError ? error.translated : error;
    });
  }

  async close(): Promise<void> {
    // Closing twice is harmless, as with the other stores (pg's pool throws on a second end()).
    if (this.pool.ending) return;
    await this.pool.end();
  }

  async ping(): Promise<void> {
    try {
      await this.rows('ping', {});
    } catch (error) {
      // /readyz: whatever stops a trivial query means the store cannot serve.
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(`PostgreSQL: ${(error as Error).message}`, { cause: error });
    }
  }

  async createOrg(org: Org): Promise<void> {
    // The usage row with the org: the quota check of insertMedia is an UPDATE of that row.
    await this.transaction(async (client) => {
      await this.run('insertOrg', org, client);
      await this.run('ensureUsage', { orgId: org.id }, client);
    });
  }

  async getOrgById(id: string): Promise<Org | null> {
    return this.lookup(id, 'orgById', { id });
  }

  async getOrgByName(name: string): Promise<Org | null> {
    return this.lookup(name, 'orgByName', { name });
  }

  async getOrgByCorpId(corpId: string): Promise<Org | null> {
    return this.lookup(corpId, 'orgByCorpId', { corpId });
  }

  async listOrgs(): Promise<Org[]> {
    return this.rows('listOrgs', {});
  }

  async updateOrgLimits(id: string, limits: { quotaBytes?: number | null; rateLimitPerSecond?: number | null }): Promise<void> {
    // A limit left undefined keeps its value; null clears it (unlimited / server default).
    const { quotaBytes, rateLimitPerSecond } = limits;
    if (quotaBytes === undefined && rateLimitPerSecond === undefined) return;
    if (quotaBytes === undefined) await this.run('setOrgRate', { id, rateLimitPerSecond: rateLimitPerSecond! });
    else if (rateLimitPerSecond === undefined) await this.run('setOrgQuota', { id, quotaBytes });
    else await this.run('setOrgLimits', { id, quotaBytes, rateLimitPerSecond });
  }

  async createApp(app: App): Promise<void> {
    await this.run('insertApp', app);
  }

  async getAppByKey(appKey: string): Promise<App | null> {
    return this.lookup(appKey, 'appByKey', { appKey });
  }

  async getAppById(id: string): Promise<App | null> {
    return this.lookup(id, 'appById', { id });
  }

  async listApps(orgId?: string): Promise<App[]> {
    return orgId === undefined ? this.rows('listApps', {}) : this.rows('listAppsOfOrg', { orgId });
  }

  async countApps(): Promise<number> {
    return (await this.rows('countApps', {}))[0]!.n;
  }

  async updateAppSecret(appId: string, secretHash: string): Promise<boolean> {
    if (cannotBeStored(appId)) return false;
    return (await this.run('setAppSecret', { id: appId, secretHash })) > 0;
  }

  async deleteApp(appId: string): Promise<boolean> {
    if (cannotBeStored(appId)) return false;
    return (await this.run('deleteApp', { id: appId })) > 0;
  }

  async deleteToken(tokenHash: string): Promise<TokenRow | null> {
    if (cannotBeStored(tokenHash)) return null;
    return (await this.rows('deleteToken', { tokenHash }))[0] ?? null;
  }

  async deleteOrg(orgId: string): Promise<DeletedOrg | null> {
    if (cannotBeStored(orgId)) return null;
    return this.transaction(async (client) => {
      // The org row locked first: a concurrent insert of one of its rows waits, then fails its foreign key.
      if ((await this.rows('lockOrg', { id: orgId }, client)).length === 0) return null;
      const args = { orgId };
      const tokens = await this.run('deleteTokensOfOrg', args, client);
      const apps = await this.run('deleteAppsOfOrg', args, client);
      const suiteAuthorizations = await this.run('deleteAuthorizationsOfOrg', args, client);
      const blobKeys = (await this.rows('deleteMediaOfOrg', args, client)).map((row) => row.blobKey);
      blobKeys.push(...(await this.rows('deleteChunksOfOrg', args, client)).map((row) => row.blobKey));
      await this.run('deleteSessionsOfOrg', args, client);
      await this.run('deleteChunkLimitOfOrg', args, client);
      await this.run('deleteUsageOfOrg', args, client);
      await this.run('deleteOrg', { id: orgId }, client);
      return { blobKeys, apps, tokens, suiteAuthorizations };
    });
  }

  async insertToken(token: TokenRow): Promise<void> {
    await this.run('insertToken', token);
  }

  async getToken(tokenHash: string): Promise<TokenRow | null> {
    return this.lookup(tokenHash, 'tokenByHash', { tokenHash });
  }

  async findValidToken(principal: string, orgId: string, now: number): Promise<TokenRow | null> {
    return (await this.rows('validToken', { principal, orgId, now }))[0] ?? null;
  }

  async renewToken(tokenHash: string, expiresAt: number): Promise<void> {
    await this.run('renewToken', { tokenHash, expiresAt });
  }

  async deleteTokens(principal: string, orgId: string): Promise<number> {
    return this.run('deleteTokens', { principal, orgId });
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return this.run('deleteExpiredTokens', { now });
  }

  async insertMedia(row: MediaRow, quotaBytes: number | null, inlineBytes?: Buffer): Promise<void> {
    if (inlineBytes !== undefined) throw new Error('postgres store: media bytes go to the blob store (inlineMaxBytes is 0)');
    try {
      await this.#insertMediaOnce(row, quotaBytes);
    } catch (error) {
      if (!(error instanceof CommitOutcomeUnknownError)) throw error;
      // Whether the COMMIT whose answer was lost took effect: the row says, if the engine answers.
      const stored = await this.getMedia(row.mediaId).catch(() => undefined);
      if (stored === undefined) throw error;
      if (stored === null) throw new StoreUnavailableError(`PostgreSQL: the insert of ${row.mediaId} was not committed (${error.message})`, { cause: error });
    }
  }

  async #insertMediaOnce(row: MediaRow, quotaBytes: number | null): Promise<void> {
    await this.transaction(async (client) => {
      // The insert first: a duplicate id fails before the usage row is touched.
      await this.run('insertMedia', row, client);
      const grown = quotaBytes === null
        ? await this.run('growUsage', { orgId: row.orgId, count: 1, bytes: row.size }, client)
        : await this.run('growUsageWithinQuota', { orgId: row.orgId, bytes: row.size, quotaBytes }, client);
      if (grown === 0) {
        throw new QuotaExceededError(`org ${row.orgId}: ${row.size} more bytes would exceed the quota of ${quotaBytes} bytes`);
      }
    });
  }

  async getMedia(mediaId: string): Promise<MediaRow | null> {
    return this.lookup(mediaId, 'mediaById', { mediaId });
  }

  async getInlineBytes(_mediaId: string): Promise<Buffer | null> {
    return null;
  }

  async listMedia(orgId: string, options: { limit: number; after?: string }): Promise<MediaPage> {
    checkMediaPageLimit(options.limit);
    const limit = options.limit + 1; // one more: whether there is a next page
    const cursor = options.after === undefined ? undefined : decodeMediaCursor(orgId, options.after);
    const rows = cursor === undefined
      ? await this.rows('listMedia', { orgId, limit })
      : await this.rows('listMediaAfter', { orgId, createdAt: cursor.createdAt, mediaId: cursor.mediaId, limit });
    return mediaPage(orgId, rows, options.limit);
  }

  async expiredMedia(now: number, limit: number): Promise<MediaRow[]> {
    checkMediaPageLimit(limit);
    return this.rows('expiredMedia', { now, limit });
  }

  async deleteMedia(mediaId: string): Promise<MediaRow | null> {
    if (cannotBeStored(mediaId)) return null;
    return this.transaction(async (client) => {
      const row = (await this.rows('deleteMedia', { mediaId }, client))[0];
      if (!row) return null;
      await this.run('shrinkUsage', { orgId: row.orgId, bytes: row.size }, client);
      return row;
    });
  }

  async usage(orgId: string): Promise<OrgUsage> {
    return (await this.rows('usage', { orgId }))[0] ?? { mediaCount: 0, totalBytes: 0 };
  }

  async referencedBlobKeys(blobKeys: string[]): Promise<Set<string>> {
    const referenced = new Set<string>();
    for (let i = 0; i < blobKeys.length; i += BLOB_KEY_BATCH) {
      const batch = { blobKeys: blobKeys.slice(i, i + BLOB_KEY_BATCH) };
      for (const row of await this.rows('referencedBlobKeys', batch)) referenced.add(row.blobKey);
      for (const row of await this.rows('chunkKeysReferenced', batch)) referenced.add(row.blobKey);
    }
    return referenced;
  }

  async createSuite(suite: Suite): Promise<void> {
    await this.run('insertSuite', suite);
  }

  async getSuiteByKey(suiteKey: string): Promise<Suite | null> {
    return this.lookup(suiteKey, 'suiteByKey', { suiteKey });
  }

  async listSuites(): Promise<Suite[]> {
    return this.rows('listSuites', {});
  }

  async authorizeSuite(authorization: SuiteAuthorization): Promise<void> {
    await this.run('authorizeSuite', authorization);
  }

  async isSuiteAuthorized(suiteId: string, orgId: string): Promise<boolean> {
    return (await this.rows('suiteAuthorization', { suiteId, orgId })).length > 0;
  }

  async revokeSuite(suiteId: string, orgId: string): Promise<boolean> {
    return (await this.run('revokeSuite', { suiteId, orgId })) > 0;
  }

  async listSuiteAuthorizations(suiteId: string): Promise<SuiteAuthorization[]> {
    return this.rows('listSuiteAuthorizations', { suiteId });
  }

  async addSuiteTicket(ticket: SuiteTicketRow, keep: number): Promise<void> {
    await this.transaction(async (client) => {
      await this.run('insertSuiteTicket', ticket, client);
      await this.run('dropSuiteTickets', { suiteId: ticket.suiteId, upToSeq: ticket.seq - keep }, client);
    });
  }

  async latestSuiteTickets(suiteId: string, limit: number): Promise<SuiteTicketRow[]> {
    return this.rows('latestSuiteTickets', { suiteId, limit });
  }

  async createUploadSession(session: UploadSessionRow, quotaBytes: number | null): Promise<void> {
    await this.transaction(async (client) => {
      await this.run('ensureUsage', { orgId: session.orgId }, client);
      const reserved = quotaBytes === null
        ? await this.run('reserve', { orgId: session.orgId, bytes: session.fileSize }, client)
        : await this.run('reserveWithinQuota', { orgId: session.orgId, bytes: session.fileSize, quotaBytes }, client);
      if (reserved === 0) throw new QuotaExceededError(`org ${session.orgId}: ${session.fileSize} bytes more would exceed the quota of ${quotaBytes} bytes`);
      await this.run('insertUploadSession', session, client);
    });
  }

  async getUploadSession(id: string): Promise<UploadSessionRow | null> {
    return this.lookup(id, 'uploadSessionById', { id });
  }

  async addUploadChunk(chunk: UploadChunkRow): Promise<UploadChunkRow | null> {
    if (cannotBeStored(chunk.sessionId)) throw new UploadSessionGoneError(`upload session ${chunk.sessionId}`);
    return this.transaction(async (client) => {
      if ((await this.rows('lockUploadSession', { id: chunk.sessionId }, client)).length === 0) {
        throw new UploadSessionGoneError(`upload session ${chunk.sessionId}`);
      }
      if ((await this.run('insertUploadChunk', chunk, client)) > 0) return null;
      return (await this.rows('uploadChunk', { sessionId: chunk.sessionId, seq: chunk.seq }, client))[0]!;
    });
  }

  async listUploadChunks(sessionId: string, afterSeq: number, limit: number): Promise<UploadChunkRow[]> {
    if (cannotBeStored(sessionId)) return [];
    return this.rows('listUploadChunks', { sessionId, afterSeq, limit });
  }

  async uploadProgress(sessionId: string): Promise<UploadProgress> {
    if (cannotBeStored(sessionId)) return { chunks: 0, bytes: 0, lastSeq: 0 };
    const progress = (await this.rows('uploadProgress', { sessionId }))[0]!;
    // count() and sum() of bigint come back as bigint / numeric text: numbers here.
    return { chunks: Number(progress.chunks), bytes: Number(progress.bytes), lastSeq: Number(progress.lastSeq) };
  }

  async commitUploadSession(sessionId: string, row: MediaRow, quotaBytes: number | null): Promise<string[] | null> {
    if (cannotBeStored(sessionId)) return null;
    return this.transaction(async (client) => {
      // The session locked first (a chunk being added waits), its chunks' keys read before the
      // session's delete would cascade them away.
      if ((await this.rows('lockUploadSession', { id: sessionId }, client)).length === 0) return null;
      const chunkKeys = (await this.rows('deleteChunksOfSession', { sessionId }, client)).map((chunk) => chunk.blobKey);
      const session = (await this.rows('deleteUploadSession', { id: sessionId }, client))[0]!;
      await this.run('releaseReservation', { orgId: session.orgId, bytes: session.fileSize }, client);
      await this.run('insertMedia', row, client);
      const grown = quotaBytes === null
        ? await this.run('growUsage', { orgId: row.orgId, count: 1, bytes: row.size }, client)
        : await this.run('growUsageWithinQuota', { orgId: row.orgId, bytes: row.size, quotaBytes }, client);
      // A throw rolls the transaction back: the session and its chunks stay as they were.
      if (grown === 0) throw new QuotaExceededError(`org ${row.orgId}: ${row.size} more bytes would exceed the quota of ${quotaBytes} bytes`);
      return chunkKeys;
    });
  }

  async deleteUploadSession(sessionId: string): Promise<string[] | null> {
    if (cannotBeStored(sessionId)) return null;
    return this.transaction(async (client) => {
      // The session locked first (a chunk being added waits), its chunks' keys read before the
      // session's delete would cascade them away.
      if ((await this.rows('lockUploadSession', { id: sessionId }, client)).length === 0) return null;
      const chunkKeys = (await this.rows('deleteChunksOfSession', { sessionId }, client)).map((chunk) => chunk.blobKey);
      const session = (await this.rows('deleteUploadSession', { id: sessionId }, client))[0]!;
      await this.run('releaseReservation', { orgId: session.orgId, bytes: session.fileSize }, client);
      return chunkKeys;
    });
  }

  async expiredUploadSessions(now: number, limit: number): Promise<UploadSessionRow[]> {
    checkMediaPageLimit(limit);
    return this.rows('expiredUploadSessions', { now, limit });
  }

  async getMaxChunkedBytes(orgId: string): Promise<number | null> {
    if (cannotBeStored(orgId)) return null;
    return (await this.rows('maxChunkedBytes', { orgId }))[0]?.bytes ?? null;
  }

  async setMaxChunkedBytes(orgId: string, bytes: number | null): Promise<void> {
    if (bytes === null) await this.run('clearMaxChunkedBytes', { orgId });
    else await this.run('setMaxChunkedBytes', { orgId, bytes });
  }

  /**
   * A connection of the pool for `work`, released afterwards (destroyed when broken). While it is
   * checked out, pg's pool does not listen to its 'error' events, and a server that goes away
   * (restart, shutdown: FATAL 57P01, then the socket's end) emits one: unheard, it would end the
   * process. Heard here, it marks the connection broken and fails what runs on it.
   */
  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw translateError(error);
    }
    let lost: Error | undefined;
    const onError = (error: Error): void => {
      lost ??= error;
    };
    client.on('error', onError);
    let failed: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      failed = error as Error;
      throw error;
    } finally {
      client.off('error', onError);
      client.release(lost ?? (failed instanceof BrokenClientError ? failed : undefined));
    }
  }

  /** The rows of a statement (on the pool, or on a transaction's client). */
  private async rows<K extends keyof typeof STATEMENTS>(
    name: K, args: Args<(typeof STATEMENTS)[K]>, on: Queryable = this.pool,
  ): Promise<Row<(typeof STATEMENTS)[K]>[]> {
    const statement = STATEMENTS[name] as Statement<typeof args, Row<(typeof STATEMENTS)[K]>>;
    try {
      return (await on.query(this.#query(statement.sql, statement.values(args)))).rows;
    } catch (error) {
      throw translateError(error);
    }
  }

  /** Runs a statement and returns how many rows it touched. */
  private async run<K extends keyof typeof STATEMENTS>(name: K, args: Args<(typeof STATEMENTS)[K]>, on: Queryable = this.pool): Promise<number> {
    const statement = STATEMENTS[name] as Statement<typeof args, unknown>;
    try {
      return (await on.query(this.#query(statement.sql, statement.values(args)))).rowCount ?? 0;
    } catch (error) {
      throw translateError(error);
    }
  }

  /** A statement with this store's client-side timeout (pg then releases the connection as broken). */
  #query(text: string, values?: unknown[]): pg.QueryConfig {
    return { text, ...(values === undefined ? {} : { values }), query_timeout: this.timeoutMs } as pg.QueryConfig;
  }

  /** The one row found by a text key, or null. */
  private async lookup<K extends keyof typeof STATEMENTS>(key: string, name: K, args: Args<(typeof STATEMENTS)[K]>): Promise<Row<(typeof STATEMENTS)[K]> | null> {
    if (cannotBeStored(key)) return null;
    return (await this.rows(name, args))[0] ?? null;
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      let committing = false;
      try {
        await client.query(this.#query('BEGIN'));
        const result = await work(client);
        committing = true;
        await client.query(this.#query('COMMIT'));
        return result;
      } catch (error) {
        // After a query timeout the server may still answer the abandoned statement, and pg would
        // take that answer for the next one's: such a connection is dropped, not rolled back.
        let rolledBack = !isQueryTimeout(error);
        if (rolledBack) {
          await client.query(this.#query('ROLLBACK')).catch(() => {
            rolledBack = false;
          });
        }
        let translated = translateError(error);
        // A COMMIT cut off (connection lost, timed out, server shutting down) may have been applied.
        if (committing && translated instanceof StoreUnavailableError) {
          translated = new CommitOutcomeUnknownError(translated.message, { cause: error });
        }
        // A connection that could not roll back is in an unknown state: destroyed, not reused.
        throw rolledBack ? translated : new BrokenClientError(translated);
      }
    }).catch((error: unknown) => {
      throw error instanceof BrokenClientError ? error.translated : error;
    });
  }
}

/** pg's client-side query_timeout (the statement was abandoned, not answered). */
function isQueryTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

/** Carries a failure out of withClient with the word to destroy the connection, not reuse it. */
class BrokenClientError extends Error {
  readonly translated: Error;
  constructor(translated: Error) {
    super(translated.message);
    this.translated = translated;
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
  if (error instanceof QuotaExceededError || error instanceof ConflictError || error instanceof StoreUnavailableError || error instanceof UploadSessionGoneError) return error;
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
