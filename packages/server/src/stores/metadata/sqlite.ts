// MetadataStore on SQLite (better-sqlite3 ^12, WAL): the embedded default. The operator CLI opens
// the same file while the server runs; WAL + busy_timeout make that safe.

import { open, type FileHandle } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { CoalescingSync } from '../coalescing-sync.ts';
import { sql } from 'kysely';
import { checkMediaPageLimit, decodeMediaCursor, mediaPage } from './media-cursor.ts';
import { MIGRATIONS } from './schema.ts';
import { DEFAULT_CHECKPOINTER_OPTIONS, startCheckpointer, type Checkpointer, type CheckpointerOptions } from './sqlite-checkpointer.ts';
import { sharedStatements, statementCompiler, type Statement } from './statements.ts';
import {
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

interface PendingInsert {
  row: MediaRow;
  quotaBytes: number | null;
  inlineBytes: Buffer | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/** What is SQLite's alone: the inline bytes of small media, keyed by the row's seq. */
function sqliteStatements() {
  const { db, define } = statementCompiler('sqlite');
  return {
    ...sharedStatements('sqlite'),
    insertMediaBytes: define<{ seq: number | bigint; bytes: Buffer }, never>((a) => db.insertInto('media_bytes').values({ seq: a.seq as number, bytes: a.bytes })),
    inlineBytes: define<{ mediaId: string }, { bytes: Buffer }>((a) =>
      db.selectFrom('media as m').innerJoin('media_bytes as b', 'b.seq', 'm.seq').select('b.bytes').where('m.media_id', '=', a.mediaId)),
    /** Undoes one row of a group commit (its media_bytes go with it: ON DELETE CASCADE). */
    deleteMediaBySeq: define<{ seq: number | bigint }, never>((a) => db.deleteFrom('media').where('seq', '=', a.seq as number)),
    blobKeyReferenced: define<{ blobKey: string }, { one: number }>((a) =>
      db.selectFrom('media').select(sql<number>`1`.as('one')).where('blob_key', '=', a.blobKey)),
    chunkKeyReferenced: define<{ blobKey: string }, { one: number }>((a) =>
      db.selectFrom('upload_chunks').select(sql<number>`1`.as('one')).where('blob_key', '=', a.blobKey)),
    ping: define<object, { one: number }>(() => db.selectNoFrom(sql<number>`1`.as('one'))),
    totalChanges: define<object, { changes: number }>(() => db.selectNoFrom(sql<number>`total_changes()`.as('changes'))),
  };
}

/** Each statement prepared once per connection, typed by its named arguments and its row. */
type Prepared<S> = { [K in keyof S]: S[K] extends Statement<infer A, infer R> ? Database.Statement<A, R> : never };

function prepareAll<S extends Record<string, Statement<object, unknown>>>(db: Database.Database, statements: S): Prepared<S> {
  return Object.fromEntries(Object.entries(statements).map(([name, statement]) => [name, db.prepare(statement.sql)])) as Prepared<S>;
}

const STATEMENTS = sqliteStatements();

/** Runs a store call, translating SQLite's errors into the seam's own. */
function translate<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translatedError(error);
  }
}

function translatedError(error: unknown): Error {
  if (error instanceof QuotaExceededError || error instanceof ConflictError || error instanceof UploadSessionGoneError) return error;
  const code = (error as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_CONSTRAINT')) return new ConflictError((error as Error).message);
  return new StoreUnavailableError(`sqlite: ${(error as Error).message}`);
}

export interface SqliteMetadataStoreOptions {
  /** Media up to this size are kept in the database, with their row. Default 0. */
  inlineMaxBytes?: number;
  checkpointer?: CheckpointerOptions;
  /**
   * How a write's commit is made durable: given the WAL's fdatasync, runs it. Default: runs it.
   * The conformance suite wraps it to hold commits back and check that no write resolves earlier.
   */
  syncWal?(fdatasync: () => Promise<void>): Promise<void>;
}

export class SqliteMetadataStore implements MetadataStore {
  readonly #path: string;
  #db: Database.Database | undefined;
  #wal: FileHandle | undefined;
  #checkpointer: Checkpointer | undefined;
  readonly #walSync = new CoalescingSync(() => this.#makeCommitsDurable());
  readonly #syncWal: NonNullable<SqliteMetadataStoreOptions['syncWal']>;
  /**
   * A WAL fsync failed: the kernel may have dropped those pages' write-back and reports the
   * error once, so a later fsync of the WAL that succeeds proves nothing about them ("fsyncgate").
   * Until a full checkpoint has written every committed page into meta.sqlite and fsynced it,
   * no commit is acknowledged.
   */
  #walFsyncFailed = false;

  /**
   * An I/O error inside SQLite (its own fsync of the WAL before a checkpoint or when the WAL starts
   * over, a write) is a failed fsync as well: pages of commits not yet acknowledged may be lost,
   * and no later WAL fsync proves otherwise. True when `error` was one.
   */
  #noteIoError(error: unknown): boolean {
    if (!String((error as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_IOERR')) return false;
    this.#walFsyncFailed = true;
    return true;
  }

  /** Re-establishes durability at once (a full checkpoint) instead of at the next commit; a failure leaves it to that one. */
  async #recoverAfterIoError(): Promise<void> {
    await this.#walSync.sync().catch(() => {});
  }

  async #makeCommitsDurable(): Promise<void> {
    if (this.#walFsyncFailed) {
      this.#checkpointIntoDatabase();
      return;
    }
    try {
      await this.#syncWal(() => this.#fdatasyncWal());
    } catch (error) {
      this.#walFsyncFailed = true;
      throw error;
    }
  }

  async #fdatasyncWal(): Promise<void> {
    this.#wal ??= await open(`${this.#path}-wal`, 'r+');
    await this.#wal.datasync();
  }

  /**
   * PRAGMA wal_checkpoint(TRUNCATE): SQLite copies every frame of the WAL into the database file,
   * fsyncs it, and empties the WAL; only a complete one clears #walFsyncFailed. On the event loop,
   * but only after a failed fsync.
   */
  #checkpointIntoDatabase(): void {
    const [result] = translate(() => this.#conn.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[]);
    if (!result || result.busy !== 0 || result.log !== result.checkpointed) {
      throw new StoreUnavailableError(`sqlite: checkpoint after a failed WAL fsync incomplete: ${JSON.stringify(result)}`);
    }
    this.#walFsyncFailed = false;
  }

  readonly inlineMaxBytes: number;

  /** Undefined: the checkpointer's defaults. */
  readonly #checkpointerOptions: CheckpointerOptions | undefined;

  constructor(dbPath: string, options: SqliteMetadataStoreOptions = {}) {
    this.#path = dbPath;
    this.inlineMaxBytes = options.inlineMaxBytes ?? 0;
    this.#checkpointerOptions = options.checkpointer;
    this.#syncWal = options.syncWal ?? ((fdatasync) => fdatasync());
  }

  /** Where WAL checkpoints run now (sqlite-checkpointer.ts). */
  get checkpointMode(): Checkpointer['mode'] | 'closed' {
    return this.#checkpointer?.mode ?? 'closed';
  }

  /** Prepared at init, once per connection: preparing costs more than running these statements. */
  #q: Prepared<typeof STATEMENTS> | undefined;

  get #conn(): Database.Database {
    if (!this.#db) throw new StoreUnavailableError('sqlite store is not open');
    return this.#db;
  }

  get #statements(): Prepared<typeof STATEMENTS> {
    if (!this.#q) throw new StoreUnavailableError('sqlite store is not open');
    return this.#q;
  }

  async init(): Promise<void> {
    translate(() => {
      const db = new Database(this.#path);
      db.pragma('journal_mode = WAL');
      // NORMAL: a commit does not fsync on the event loop; #durable() fsyncs the WAL off-thread,
      // shared by concurrent commits (group commit) — as durable as FULL once it resolves.
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      // Checkpoints run on a timer (sqlite-checkpointer.ts), not inside our commits.
      db.pragma('wal_autocheckpoint = 0');
      db.pragma('journal_size_limit = 67108864'); // the WAL file shrinks back to 64 MB when reset
      migrate(db);
      this.#db = db;
      this.#q = prepareAll(db, STATEMENTS);
    });
    this.#checkpointer = startCheckpointer(this.#path, () => {
      if (!this.#db) return null;
      let answer: { log: number; checkpointed: number }[];
      try {
        answer = this.#db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      } catch (error) {
        this.#noteIoError(error);
        throw error;
      }
      const [result] = answer;
      if (!result) return null;
      const { changes } = this.#q!.totalChanges.get({})!;
      return { ...result, changes };
    }, { ...(this.#checkpointerOptions ?? DEFAULT_CHECKPOINTER_OPTIONS), onIoError: () => { this.#walFsyncFailed = true; } });
  }

  /** Resolves once every commit made so far is on disk (api.md "POST /media/upload": acknowledged = durable). */
  async #durable(): Promise<void> {
    try {
      await this.#walSync.sync();
    } catch (error) {
      throw new StoreUnavailableError(`sqlite: WAL fsync failed: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.#checkpointer?.stop();
    this.#checkpointer = undefined;
    await this.#wal?.close().catch(() => {});
    this.#wal = undefined;
    this.#q = undefined;
    this.#db?.close();
    this.#db = undefined;
  }

  async ping(): Promise<void> {
    translate(() => this.#statements.ping.get({}));
  }

  /** Quick integrity check of the database file (for the reliability suite and operators). */
  integrityCheck(): string {
    return translate(() => this.#conn.pragma('integrity_check', { simple: true }) as string);
  }

  /** A write, then its durability: acknowledged = durable (api.md). */
  async #write<T>(work: (q: Prepared<typeof STATEMENTS>) => T): Promise<T> {
    let result: T;
    try {
      result = work(this.#statements);
    } catch (error) {
      if (this.#noteIoError(error)) await this.#recoverAfterIoError();
      throw translatedError(error);
    }
    await this.#durable();
    return result;
  }

  async createOrg(org: Org): Promise<void> {
    await this.#write((q) => this.#conn.transaction(() => {
      q.insertOrg.run(org);
      q.ensureUsage.run({ orgId: org.id });
    }).immediate());
  }

  async getOrgById(id: string): Promise<Org | null> {
    return translate(() => this.#statements.orgById.get({ id }) ?? null);
  }

  async getOrgByName(name: string): Promise<Org | null> {
    return translate(() => this.#statements.orgByName.get({ name }) ?? null);
  }

  async getOrgByCorpId(corpId: string): Promise<Org | null> {
    return translate(() => this.#statements.orgByCorpId.get({ corpId }) ?? null);
  }

  async listOrgs(): Promise<Org[]> {
    return translate(() => this.#statements.listOrgs.all({}));
  }

  async updateOrgLimits(id: string, limits: { quotaBytes?: number | null; rateLimitPerSecond?: number | null }): Promise<void> {
    const { quotaBytes, rateLimitPerSecond } = limits;
    if (quotaBytes === undefined && rateLimitPerSecond === undefined) return;
    await this.#write((q) => {
      if (quotaBytes === undefined) q.setOrgRate.run({ id, rateLimitPerSecond: rateLimitPerSecond! });
      else if (rateLimitPerSecond === undefined) q.setOrgQuota.run({ id, quotaBytes });
      else q.setOrgLimits.run({ id, quotaBytes, rateLimitPerSecond });
    });
  }

  async createApp(app: App): Promise<void> {
    await this.#write((q) => q.insertApp.run(app));
  }

  async getAppByKey(appKey: string): Promise<App | null> {
    return translate(() => this.#statements.appByKey.get({ appKey }) ?? null);
  }

  async getAppById(id: string): Promise<App | null> {
    return translate(() => this.#statements.appById.get({ id }) ?? null);
  }

  async listApps(orgId?: string): Promise<App[]> {
    return translate(() => (orgId === undefined ? this.#statements.listApps.all({}) : this.#statements.listAppsOfOrg.all({ orgId })));
  }

  async countApps(): Promise<number> {
    return translate(() => this.#statements.countApps.get({})!.n);
  }

  async updateAppSecret(appId: string, secretHash: string): Promise<boolean> {
    return this.#write((q) => q.setAppSecret.run({ id: appId, secretHash }).changes > 0);
  }

  async deleteApp(appId: string): Promise<boolean> {
    return this.#write((q) => q.deleteApp.run({ id: appId }).changes > 0);
  }

  async deleteToken(tokenHash: string): Promise<TokenRow | null> {
    return this.#write((q) => q.deleteToken.get({ tokenHash }) ?? null);
  }

  async deleteOrg(orgId: string): Promise<DeletedOrg | null> {
    return this.#write((q) => this.#conn.transaction((): DeletedOrg | null => {
      if (!q.orgById.get({ id: orgId })) return null;
      const args = { orgId };
      const tokens = q.deleteTokensOfOrg.run(args).changes;
      const apps = q.deleteAppsOfOrg.run(args).changes;
      const suiteAuthorizations = q.deleteAuthorizationsOfOrg.run(args).changes;
      const blobKeys = q.deleteMediaOfOrg.all(args).map((row) => row.blobKey);
      blobKeys.push(...q.deleteChunksOfOrg.all(args).map((row) => row.blobKey));
      q.deleteSessionsOfOrg.run(args);
      q.deleteChunkLimitOfOrg.run(args);
      q.deleteUsageOfOrg.run(args);
      q.deleteOrg.run({ id: orgId });
      return { blobKeys, apps, tokens, suiteAuthorizations };
    }).immediate());
  }

  async insertToken(token: TokenRow): Promise<void> {
    await this.#write((q) => q.insertToken.run(token));
  }

  async getToken(tokenHash: string): Promise<TokenRow | null> {
    return translate(() => this.#statements.tokenByHash.get({ tokenHash }) ?? null);
  }

  async findValidToken(principal: string, orgId: string, now: number): Promise<TokenRow | null> {
    return translate(() => this.#statements.validToken.get({ principal, orgId, now }) ?? null);
  }

  async renewToken(tokenHash: string, expiresAt: number): Promise<void> {
    await this.#write((q) => q.renewToken.run({ tokenHash, expiresAt }));
  }

  async deleteTokens(principal: string, orgId: string): Promise<number> {
    return this.#write((q) => q.deleteTokens.run({ principal, orgId }).changes);
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    return this.#write((q) => q.deleteExpiredTokens.run({ now }).changes);
  }

  async insertMedia(row: MediaRow, quotaBytes: number | null, inlineBytes?: Buffer): Promise<void> {
    if (inlineBytes !== undefined && inlineBytes.length > this.inlineMaxBytes) {
      throw new Error(`sqlite store: ${inlineBytes.length} bytes is more than inlineMaxBytes ${this.inlineMaxBytes}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.#pendingInserts.push({ row, quotaBytes, inlineBytes, resolve, reject });
      if (this.#pendingInserts.length === 1) setImmediate(() => this.#commitPendingInserts());
    });
    try {
      await this.#durable();
    } catch (error) {
      // Committed but not durable, and about to be answered as failed: the row must not stay
      // (the caller removes its blob). Its removal is made durable by the recovery checkpoint.
      await this.#undoInsertedMedia(row.mediaId).catch(() => {});
      throw error;
    }
  }

  async #undoInsertedMedia(mediaId: string): Promise<void> {
    const removed = translate(() =>
      this.#conn.transaction(() => {
        const q = this.#statements;
        const gone = q.deleteMedia.get({ mediaId }); // its media_bytes go with it (ON DELETE CASCADE)
        if (gone) q.shrinkUsage.run({ orgId: gone.orgId, bytes: gone.size });
        return gone;
      }).immediate(),
    );
    if (removed) await this.#durable();
  }

  /**
   * Inserts that arrive in the same turn of the event loop share one transaction: a commit costs
   * more than its rows (bench: 71 µs per row alone, 40 µs in groups of 16 — with their bytes).
   * A refused row (quota, conflict) is undone by compensating statements, not a savepoint (which
   * doubled the statements per row), so it leaves the other rows of its group in.
   */
  #pendingInserts: PendingInsert[] = [];

  #commitPendingInserts(): void {
    const batch = this.#pendingInserts;
    this.#pendingInserts = [];
    const outcomes: unknown[] = [];
    try {
      const q = this.#statements;
      this.#conn.transaction(() => {
        // Each org's usage is read once and written once per group; rows are checked against the
        // running total in call order, exactly as one-by-one inserts would be.
        // An org made before createOrg made its usage row gets it here.
        const usage = new Map<string, { totalBytes: number; addedCount: number; addedBytes: number }>();
        for (const { row } of batch) {
          if (usage.has(row.orgId)) continue;
          const args = { orgId: row.orgId };
          // Committed plus reserved by open upload sessions (migration 6).
          let current = q.quotaUsage.get(args);
          if (current === undefined) {
            q.ensureUsage.run(args);
            current = q.quotaUsage.get(args)!;
          }
          usage.set(row.orgId, { totalBytes: current.usedBytes, addedCount: 0, addedBytes: 0 });
        }
        for (const { row, quotaBytes, inlineBytes } of batch) {
          const org = usage.get(row.orgId)!;
          if (quotaBytes !== null && org.totalBytes + row.size > quotaBytes) {
            outcomes.push(new QuotaExceededError(`org ${row.orgId} over its quota of ${quotaBytes} bytes`));
            continue;
          }
          const refused = this.#insertOneMedia(row, inlineBytes);
          outcomes.push(refused);
          if (refused !== undefined) continue;
          org.totalBytes += row.size;
          org.addedCount += 1;
          org.addedBytes += row.size;
        }
        for (const [orgId, org] of usage) {
          if (org.addedCount > 0) q.growUsage.run({ orgId, count: org.addedCount, bytes: org.addedBytes });
        }
      }).immediate();
    } catch (error) {
      // Nothing of the group was committed.
      const settled = this.#noteIoError(error) ? this.#recoverAfterIoError() : Promise.resolve();
      void settled.then(() => { for (const entry of batch) entry.reject(translatedError(error)); });
      return;
    }
    batch.forEach((entry, i) => (outcomes[i] === undefined ? entry.resolve() : entry.reject(translatedError(outcomes[i]))));
  }

  /**
   * Inside the group's transaction: the row and its bytes, or (returned, not thrown) why not, with
   * whatever this row changed undone. A failure of the undo itself throws: the whole group then
   * rolls back.
   */
  #insertOneMedia(row: MediaRow, inlineBytes: Buffer | undefined): unknown {
    const q = this.#statements;
    let seq: number | bigint | undefined;
    try {
      seq = q.insertMedia.run(row).lastInsertRowid;
      if (inlineBytes !== undefined) q.insertMediaBytes.run({ seq, bytes: inlineBytes });
      return undefined;
    } catch (error) {
      if (seq !== undefined) q.deleteMediaBySeq.run({ seq });
      return error;
    }
  }

  async getMedia(mediaId: string): Promise<MediaRow | null> {
    return translate(() => this.#statements.mediaById.get({ mediaId }) ?? null);
  }

  async getInlineBytes(mediaId: string): Promise<Buffer | null> {
    return translate(() => this.#statements.inlineBytes.get({ mediaId })?.bytes ?? null);
  }

  async listMedia(orgId: string, options: { limit: number; after?: string }): Promise<MediaPage> {
    checkMediaPageLimit(options.limit);
    const limit = options.limit + 1; // one more: whether there is a next page
    const cursor = options.after === undefined ? undefined : decodeMediaCursor(orgId, options.after);
    const rows = translate(() =>
      cursor === undefined
        ? this.#statements.listMedia.all({ orgId, limit })
        : this.#statements.listMediaAfter.all({ orgId, createdAt: cursor.createdAt, mediaId: cursor.mediaId, limit }),
    );
    return mediaPage(orgId, rows, options.limit);
  }

  async expiredMedia(now: number, limit: number): Promise<MediaRow[]> {
    checkMediaPageLimit(limit);
    return translate(() => this.#statements.expiredMedia.all({ now, limit }));
  }

  async deleteMedia(mediaId: string): Promise<MediaRow | null> {
    const removed = translate(() =>
      this.#conn.transaction(() => {
        const q = this.#statements;
        const row = q.deleteMedia.get({ mediaId }); // its media_bytes go with it (ON DELETE CASCADE)
        if (row) q.shrinkUsage.run({ orgId: row.orgId, bytes: row.size });
        return row ?? null;
      }).immediate(),
    );
    if (removed) await this.#durable();
    return removed;
  }

  async usage(orgId: string): Promise<OrgUsage> {
    return translate(() => this.#statements.usage.get({ orgId }) ?? { mediaCount: 0, totalBytes: 0 });
  }

  async referencedBlobKeys(blobKeys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    translate(() => {
      const { blobKeyReferenced, chunkKeyReferenced } = this.#statements;
      for (const blobKey of blobKeys) if (blobKeyReferenced.get({ blobKey }) || chunkKeyReferenced.get({ blobKey })) found.add(blobKey);
    });
    return found;
  }

  async createUploadSession(session: UploadSessionRow, quotaBytes: number | null): Promise<void> {
    await this.#write((q) => this.#conn.transaction(() => {
      const args = { orgId: session.orgId };
      if (q.usage.get(args) === undefined) q.ensureUsage.run(args);
      const reserved = quotaBytes === null
        ? q.reserve.run({ orgId: session.orgId, bytes: session.fileSize })
        : q.reserveWithinQuota.run({ orgId: session.orgId, bytes: session.fileSize, quotaBytes });
      if (reserved.changes === 0) throw new QuotaExceededError(`org ${session.orgId}: ${session.fileSize} bytes more would exceed the quota of ${quotaBytes} bytes`);
      q.insertUploadSession.run(session);
    }).immediate());
  }

  async getUploadSession(id: string): Promise<UploadSessionRow | null> {
    return translate(() => this.#statements.uploadSessionById.get({ id }) ?? null);
  }

  async addUploadChunk(chunk: UploadChunkRow): Promise<UploadChunkRow | null> {
    return this.#write((q) => this.#conn.transaction((): UploadChunkRow | null => {
      if (!q.uploadSessionById.get({ id: chunk.sessionId })) throw new UploadSessionGoneError(`upload session ${chunk.sessionId}`);
      if (q.insertUploadChunk.run(chunk).changes > 0) return null;
      return q.uploadChunk.get({ sessionId: chunk.sessionId, seq: chunk.seq })!;
    }).immediate());
  }

  async listUploadChunks(sessionId: string, afterSeq: number, limit: number): Promise<UploadChunkRow[]> {
    return translate(() => this.#statements.listUploadChunks.all({ sessionId, afterSeq, limit }));
  }

  async uploadProgress(sessionId: string): Promise<UploadProgress> {
    return translate(() => this.#statements.uploadProgress.get({ sessionId })!);
  }

  async commitUploadSession(sessionId: string, row: MediaRow, quotaBytes: number | null): Promise<string[] | null> {
    return this.#write((q) => this.#conn.transaction((): string[] | null => {
      const chunkKeys = q.deleteChunksOfSession.all({ sessionId }).map((chunk) => chunk.blobKey);
      const session = q.deleteUploadSession.get({ id: sessionId });
      if (!session) return null;
      const args = { orgId: session.orgId };
      q.releaseReservation.run({ orgId: session.orgId, bytes: session.fileSize });
      const used = q.quotaUsage.get(args)?.usedBytes ?? 0;
      // A throw rolls the whole transaction back: the session and its chunks stay as they were.
      if (quotaBytes !== null && used + row.size > quotaBytes) throw new QuotaExceededError(`org ${row.orgId} over its quota of ${quotaBytes} bytes`);
      q.insertMedia.run(row);
      q.growUsage.run({ orgId: row.orgId, count: 1, bytes: row.size });
      return chunkKeys;
    }).immediate());
  }

  async deleteUploadSession(sessionId: string): Promise<string[] | null> {
    return this.#write((q) => this.#conn.transaction((): string[] | null => {
      const chunkKeys = q.deleteChunksOfSession.all({ sessionId }).map((chunk) => chunk.blobKey);
      const session = q.deleteUploadSession.get({ id: sessionId });
      if (!session) return null;
      q.releaseReservation.run({ orgId: session.orgId, bytes: session.fileSize });
      return chunkKeys;
    }).immediate());
  }

  async expiredUploadSessions(now: number, limit: number): Promise<UploadSessionRow[]> {
    checkMediaPageLimit(limit);
    return translate(() => this.#statements.expiredUploadSessions.all({ now, limit }));
  }

  async getMaxChunkedBytes(orgId: string): Promise<number | null> {
    return translate(() => this.#statements.maxChunkedBytes.get({ orgId })?.bytes ?? null);
  }

  async setMaxChunkedBytes(orgId: string, bytes: number | null): Promise<void> {
    await this.#write((q) => (bytes === null ? q.clearMaxChunkedBytes.run({ orgId }) : q.setMaxChunkedBytes.run({ orgId, bytes })));
  }

  async createSuite(suite: Suite): Promise<void> {
    await this.#write((q) => q.insertSuite.run(suite));
  }

  async getSuiteByKey(suiteKey: string): Promise<Suite | null> {
    return translate(() => this.#statements.suiteByKey.get({ suiteKey }) ?? null);
  }

  async listSuites(): Promise<Suite[]> {
    return translate(() => this.#statements.listSuites.all({}));
  }

  async authorizeSuite(authorization: SuiteAuthorization): Promise<void> {
    await this.#write((q) => q.authorizeSuite.run(authorization));
  }

  async isSuiteAuthorized(suiteId: string, orgId: string): Promise<boolean> {
    return translate(() => this.#statements.suiteAuthorization.get({ suiteId, orgId }) !== undefined);
  }

  async revokeSuite(suiteId: string, orgId: string): Promise<boolean> {
    return this.#write((q) => q.revokeSuite.run({ suiteId, orgId }).changes > 0);
  }

  async listSuiteAuthorizations(suiteId: string): Promise<SuiteAuthorization[]> {
    return translate(() => this.#statements.listSuiteAuthorizations.all({ suiteId }));
  }

  async addSuiteTicket(ticket: SuiteTicketRow, keep: number): Promise<void> {
    await this.#write((q) => this.#conn.transaction(() => {
      q.insertSuiteTicket.run(ticket);
      q.dropSuiteTickets.run({ suiteId: ticket.suiteId, upToSeq: ticket.seq - keep });
    }).immediate());
  }

  async latestSuiteTickets(suiteId: string, limit: number): Promise<SuiteTicketRow[]> {
    return translate(() => this.#statements.latestSuiteTickets.all({ suiteId, limit }));
  }
}

/**
 * Brings the file's schema to the newest migration (schema.ts), in one immediate transaction;
 * `PRAGMA user_version` is the number of migrations applied (3 for files of earlier releases).
 */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    for (const migration of MIGRATIONS) {
      if (migration.version <= version) continue;
      for (const statement of migration.statements('sqlite')) db.exec(statement);
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
}
