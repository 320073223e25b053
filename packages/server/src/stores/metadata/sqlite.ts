// MetadataStore on SQLite (better-sqlite3 ^12, WAL): the embedded default. The operator CLI opens
// the same file while the server runs; WAL + busy_timeout make that safe.

import { open, type FileHandle } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { CoalescingSync } from '../coalescing-sync.ts';
import { checkMediaPageLimit, decodeMediaCursor, encodeMediaCursor } from './media-cursor.ts';
import { startCheckpointer, type Checkpointer, type CheckpointerOptions } from './sqlite-checkpointer.ts';
import type { MediaFormat, MediaType } from '@oapi-media/core';
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

/** Versioned schema: migration N brings user_version from N-1 to N. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE orgs (
     id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, corp_id TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL, quota_bytes INTEGER, rate_limit_per_second INTEGER);
   CREATE TABLE apps (
     id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,
     app_key TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE tokens (
     token_hash TEXT PRIMARY KEY, nonce TEXT NOT NULL, principal TEXT NOT NULL, org_id TEXT NOT NULL,
     issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX tokens_by_principal ON tokens (principal, org_id, expires_at);
   CREATE TABLE media (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, media_id TEXT NOT NULL UNIQUE, org_id TEXT NOT NULL,
     uploaded_by TEXT NOT NULL, type TEXT NOT NULL, format TEXT NOT NULL, file_name TEXT NOT NULL,
     size INTEGER NOT NULL, sha256 TEXT NOT NULL, blob_key TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
   CREATE INDEX media_by_org ON media (org_id, seq);
   CREATE TABLE org_usage (
     org_id TEXT PRIMARY KEY, media_count INTEGER NOT NULL DEFAULT 0, total_bytes INTEGER NOT NULL DEFAULT 0);`,
  // 2: third-party suites (issue 8), their authorizations by orgs, and their rotating tickets.
  `CREATE TABLE suites (
     id TEXT PRIMARY KEY, name TEXT NOT NULL, suite_key TEXT NOT NULL UNIQUE,
     secret_ciphertext TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE suite_authorizations (
     suite_id TEXT NOT NULL REFERENCES suites(id), org_id TEXT NOT NULL REFERENCES orgs(id),
     created_at INTEGER NOT NULL, PRIMARY KEY (suite_id, org_id));
   CREATE TABLE suite_tickets (
     suite_id TEXT NOT NULL REFERENCES suites(id), seq INTEGER NOT NULL, ticket_hash TEXT NOT NULL,
     nonce TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (suite_id, seq));`,
  // 3: the bytes of small media, kept with their row (inlineMaxBytes) and gone with it.
  `CREATE TABLE media_bytes (
     seq INTEGER PRIMARY KEY REFERENCES media(seq) ON DELETE CASCADE, bytes BLOB NOT NULL);`,
  // 4: listMedia walks an org newest first by (created_at, media_id), as on PostgreSQL.
  `CREATE INDEX media_by_org_created ON media (org_id, created_at, media_id);`,
];

interface OrgRecord {
  id: string; name: string; corp_id: string; created_at: number;
  quota_bytes: number | null; rate_limit_per_second: number | null;
}
interface AppRecord { id: string; org_id: string; name: string; app_key: string; secret_hash: string; created_at: number }
interface TokenRecord { token_hash: string; nonce: string; principal: string; org_id: string; issued_at: number; expires_at: number }
interface PendingInsert {
  row: MediaRow;
  quotaBytes: number | null;
  inlineBytes: Buffer | undefined;
  resolve(): void;
  reject(error: unknown): void;
}


interface MediaRecord {
  seq: number; media_id: string; org_id: string; uploaded_by: string; type: string; format: string;
  file_name: string; size: number; sha256: string; blob_key: string; created_at: number;
}

interface SuiteRecord { id: string; name: string; suite_key: string; secret_ciphertext: string; created_at: number }
interface SuiteAuthorizationRecord { suite_id: string; org_id: string; created_at: number }
interface SuiteTicketRecord { suite_id: string; seq: number; ticket_hash: string; nonce: string; created_at: number }

const toSuite = (r: SuiteRecord): Suite => ({
  id: r.id, name: r.name, suiteKey: r.suite_key, secretCiphertext: r.secret_ciphertext, createdAt: r.created_at,
});
const toSuiteAuthorization = (r: SuiteAuthorizationRecord): SuiteAuthorization => ({
  suiteId: r.suite_id, orgId: r.org_id, createdAt: r.created_at,
});
const toSuiteTicket = (r: SuiteTicketRecord): SuiteTicketRow => ({
  suiteId: r.suite_id, seq: r.seq, ticketHash: r.ticket_hash, nonce: r.nonce, createdAt: r.created_at,
});

const toOrg = (r: OrgRecord): Org => ({
  id: r.id, name: r.name, corpId: r.corp_id, createdAt: r.created_at,
  quotaBytes: r.quota_bytes, rateLimitPerSecond: r.rate_limit_per_second,
});
const toApp = (r: AppRecord): App => ({
  id: r.id, orgId: r.org_id, name: r.name, appKey: r.app_key, secretHash: r.secret_hash, createdAt: r.created_at,
});
const toToken = (r: TokenRecord): TokenRow => ({
  tokenHash: r.token_hash, nonce: r.nonce, principal: r.principal, orgId: r.org_id,
  issuedAt: r.issued_at, expiresAt: r.expires_at,
});
const toMedia = (r: MediaRecord): MediaRow => ({
  mediaId: r.media_id, orgId: r.org_id, uploadedBy: r.uploaded_by, type: r.type as MediaType,
  format: r.format as MediaFormat, fileName: r.file_name, size: r.size, sha256: r.sha256,
  blobKey: r.blob_key, createdAt: r.created_at,
});

/** Runs a store call, translating SQLite's errors into the seam's own. */
function translate<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translatedError(error);
  }
}

function translatedError(error: unknown): Error {
  if (error instanceof QuotaExceededError || error instanceof ConflictError) return error;
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
  readonly #walSync = new CoalescingSync(() => this.#syncWal(() => this.#fdatasyncWal()));
  readonly #syncWal: NonNullable<SqliteMetadataStoreOptions['syncWal']>;

  async #fdatasyncWal(): Promise<void> {
    this.#wal ??= await open(`${this.#path}-wal`, 'r+');
    await this.#wal.datasync();
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

  /** Prepared once per connection: preparing costs more than running these small statements. */
  readonly #statements = new Map<string, Database.Statement>();

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#conn.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  get #conn(): Database.Database {
    if (!this.#db) throw new StoreUnavailableError('sqlite store is not open');
    return this.#db;
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
      this.#db = db;
      this.#migrate(db);
    });
    this.#checkpointer = startCheckpointer(this.#path, () => {
      if (!this.#db) return null;
      const [result] = this.#db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      if (!result) return null;
      const { changes } = this.#statement('SELECT total_changes() AS changes').get() as { changes: number };
      return { ...result, changes };
    }, this.#checkpointerOptions);
  }

  #migrate(db: Database.Database): void {
    db.transaction(() => {
      const version = db.pragma('user_version', { simple: true }) as number;
      for (let n = version; n < MIGRATIONS.length; n++) {
        db.exec(MIGRATIONS[n]!);
        db.pragma(`user_version = ${n + 1}`);
      }
    }).immediate();
  }

  /** Resolves once every commit made so far is on disk (api.md: acknowledged = durable). */
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
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  async ping(): Promise<void> {
    translate(() => this.#statement('SELECT 1').get());
  }

  /** Quick integrity check of the database file (for the reliability suite and operators). */
  integrityCheck(): string {
    return translate(() => this.#conn.pragma('integrity_check', { simple: true }) as string);
  }

  async createOrg(org: Org): Promise<void> {
    translate(() =>
      this.#conn
        .prepare(`INSERT INTO orgs (id, name, corp_id, created_at, quota_bytes, rate_limit_per_second)
                  VALUES (?, ?, ?, ?, ?, ?)`)
        .run(org.id, org.name, org.corpId, org.createdAt, org.quotaBytes, org.rateLimitPerSecond),
    );
    await this.#durable();
  }

  async getOrgById(id: string): Promise<Org | null> {
    const r = translate(() => this.#statement('SELECT * FROM orgs WHERE id = ?').get(id) as OrgRecord | undefined);
    return r ? toOrg(r) : null;
  }

  async getOrgByName(name: string): Promise<Org | null> {
    const r = translate(() => this.#statement('SELECT * FROM orgs WHERE name = ?').get(name) as OrgRecord | undefined);
    return r ? toOrg(r) : null;
  }

  async getOrgByCorpId(corpId: string): Promise<Org | null> {
    const r = translate(() => this.#statement('SELECT * FROM orgs WHERE corp_id = ?').get(corpId) as OrgRecord | undefined);
    return r ? toOrg(r) : null;
  }

  async listOrgs(): Promise<Org[]> {
    return translate(() => (this.#statement('SELECT * FROM orgs ORDER BY created_at, name').all() as OrgRecord[]).map(toOrg));
  }

  async updateOrgLimits(id: string, limits: { quotaBytes?: number | null; rateLimitPerSecond?: number | null }): Promise<void> {
    translate(() => {
      if (limits.quotaBytes !== undefined) this.#statement('UPDATE orgs SET quota_bytes = ? WHERE id = ?').run(limits.quotaBytes, id);
      if (limits.rateLimitPerSecond !== undefined) {
        this.#statement('UPDATE orgs SET rate_limit_per_second = ? WHERE id = ?').run(limits.rateLimitPerSecond, id);
      }
    });
    await this.#durable();
  }

  async createApp(app: App): Promise<void> {
    translate(() =>
      this.#conn
        .prepare('INSERT INTO apps (id, org_id, name, app_key, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(app.id, app.orgId, app.name, app.appKey, app.secretHash, app.createdAt),
    );
    await this.#durable();
  }

  async getAppByKey(appKey: string): Promise<App | null> {
    const r = translate(() => this.#statement('SELECT * FROM apps WHERE app_key = ?').get(appKey) as AppRecord | undefined);
    return r ? toApp(r) : null;
  }

  async getAppById(id: string): Promise<App | null> {
    const r = translate(() => this.#statement('SELECT * FROM apps WHERE id = ?').get(id) as AppRecord | undefined);
    return r ? toApp(r) : null;
  }

  async listApps(orgId?: string): Promise<App[]> {
    return translate(() => {
      const rows = orgId === undefined
        ? this.#statement('SELECT * FROM apps ORDER BY created_at, id').all()
        : this.#statement('SELECT * FROM apps WHERE org_id = ? ORDER BY created_at, id').all(orgId);
      return (rows as AppRecord[]).map(toApp);
    });
  }

  async countApps(): Promise<number> {
    return translate(() => (this.#statement('SELECT count(*) AS n FROM apps').get() as { n: number }).n);
  }

  async insertToken(t: TokenRow): Promise<void> {
    translate(() =>
      this.#conn
        .prepare(`INSERT INTO tokens (token_hash, nonce, principal, org_id, issued_at, expires_at)
                  VALUES (?, ?, ?, ?, ?, ?)`)
        .run(t.tokenHash, t.nonce, t.principal, t.orgId, t.issuedAt, t.expiresAt),
    );
    await this.#durable();
  }

  async getToken(tokenHash: string): Promise<TokenRow | null> {
    const r = translate(() => this.#statement('SELECT * FROM tokens WHERE token_hash = ?').get(tokenHash) as TokenRecord | undefined);
    return r ? toToken(r) : null;
  }

  async findValidToken(principal: string, orgId: string, now: number): Promise<TokenRow | null> {
    const r = translate(() =>
      this.#conn
        .prepare(`SELECT * FROM tokens WHERE principal = ? AND org_id = ? AND expires_at > ?
                  ORDER BY issued_at DESC, expires_at DESC, token_hash DESC LIMIT 1`)
        .get(principal, orgId, now) as TokenRecord | undefined,
    );
    return r ? toToken(r) : null;
  }

  async renewToken(tokenHash: string, expiresAt: number): Promise<void> {
    translate(() => this.#statement('UPDATE tokens SET expires_at = ? WHERE token_hash = ?').run(expiresAt, tokenHash));
    await this.#durable();
  }

  async deleteTokens(principal: string, orgId: string): Promise<number> {
    const deleted = translate(() => this.#statement('DELETE FROM tokens WHERE principal = ? AND org_id = ?').run(principal, orgId).changes);
    await this.#durable();
    return deleted;
  }

  async deleteExpiredTokens(now: number): Promise<number> {
    const deleted = translate(() => this.#statement('DELETE FROM tokens WHERE expires_at <= ?').run(now).changes);
    await this.#durable();
    return deleted;
  }

  async insertMedia(row: MediaRow, quotaBytes: number | null, inlineBytes?: Buffer): Promise<void> {
    if (inlineBytes !== undefined && inlineBytes.length > this.inlineMaxBytes) {
      throw new Error(`sqlite store: ${inlineBytes.length} bytes is more than inlineMaxBytes ${this.inlineMaxBytes}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.#pendingInserts.push({ row, quotaBytes, inlineBytes, resolve, reject });
      if (this.#pendingInserts.length === 1) setImmediate(() => this.#commitPendingInserts());
    });
    await this.#durable();
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
      this.#conn.transaction(() => {
        // Each org's usage is read once and written once per group; rows are checked against the
        // running total in call order, exactly as one-by-one inserts would be.
        const usage = new Map<string, { totalBytes: number; addedCount: number; addedBytes: number }>();
        const ensureUsage = this.#statement('INSERT INTO org_usage (org_id) VALUES (?) ON CONFLICT (org_id) DO NOTHING');
        const readUsage = this.#statement('SELECT total_bytes FROM org_usage WHERE org_id = ?');
        for (const { row } of batch) {
          if (usage.has(row.orgId)) continue;
          ensureUsage.run(row.orgId);
          const { total_bytes } = readUsage.get(row.orgId) as { total_bytes: number };
          usage.set(row.orgId, { totalBytes: total_bytes, addedCount: 0, addedBytes: 0 });
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
        const grow = this.#statement('UPDATE org_usage SET media_count = media_count + ?, total_bytes = total_bytes + ? WHERE org_id = ?');
        for (const [orgId, org] of usage) if (org.addedCount > 0) grow.run(org.addedCount, org.addedBytes, orgId);
      }).immediate();
    } catch (error) {
      for (const entry of batch) entry.reject(translatedError(error)); // nothing of the group was committed
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
    let seq: number | bigint | undefined;
    try {
      seq = this.#statement(`INSERT INTO media (media_id, org_id, uploaded_by, type, format, file_name, size, sha256, blob_key, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(row.mediaId, row.orgId, row.uploadedBy, row.type, row.format, row.fileName, row.size, row.sha256, row.blobKey, row.createdAt)
        .lastInsertRowid;
      if (inlineBytes !== undefined) this.#statement('INSERT INTO media_bytes (seq, bytes) VALUES (?, ?)').run(seq, inlineBytes);
      return undefined;
    } catch (error) {
      if (seq !== undefined) this.#statement('DELETE FROM media WHERE seq = ?').run(seq);
      return error;
    }
  }

  async getMedia(mediaId: string): Promise<MediaRow | null> {
    const r = translate(() => this.#statement('SELECT * FROM media WHERE media_id = ?').get(mediaId) as MediaRecord | undefined);
    return r ? toMedia(r) : null;
  }

  async getInlineBytes(mediaId: string): Promise<Buffer | null> {
    const r = translate(() =>
      this.#statement('SELECT b.bytes FROM media m JOIN media_bytes b ON b.seq = m.seq WHERE m.media_id = ?').get(mediaId) as
        | { bytes: Buffer }
        | undefined,
    );
    return r ? r.bytes : null;
  }

  async listMedia(orgId: string, options: { limit: number; after?: string }): Promise<MediaPage> {
    checkMediaPageLimit(options.limit);
    const cursor = options.after === undefined ? undefined : decodeMediaCursor(orgId, options.after);
    const rows = translate(() =>
      (cursor === undefined
        ? this.#statement('SELECT * FROM media WHERE org_id = ? ORDER BY created_at DESC, media_id DESC LIMIT ?')
            .all(orgId, options.limit + 1)
        : this.#statement(`SELECT * FROM media WHERE org_id = ? AND (created_at, media_id) < (?, ?)
                           ORDER BY created_at DESC, media_id DESC LIMIT ?`)
            .all(orgId, cursor.createdAt, cursor.mediaId, options.limit + 1)) as MediaRecord[],
    );
    const more = rows.length > options.limit;
    const page = (more ? rows.slice(0, options.limit) : rows).map(toMedia);
    return { items: page, next: more ? encodeMediaCursor(orgId, page[page.length - 1]!) : null };
  }

  async deleteMedia(mediaId: string): Promise<MediaRow | null> {
    const db = this.#conn;
    const removed = translate(() =>
      db.transaction(() => {
        const r = this.#statement('SELECT * FROM media WHERE media_id = ?').get(mediaId) as MediaRecord | undefined;
        if (!r) return null;
        this.#statement('DELETE FROM media_bytes WHERE seq = ?').run(r.seq);
        this.#statement('DELETE FROM media WHERE media_id = ?').run(mediaId);
        this.#statement('UPDATE org_usage SET media_count = media_count - 1, total_bytes = total_bytes - ? WHERE org_id = ?')
          .run(r.size, r.org_id);
        return toMedia(r);
      }).immediate(),
    );
    if (removed) await this.#durable();
    return removed;
  }

  async usage(orgId: string): Promise<OrgUsage> {
    const r = translate(() =>
      this.#statement('SELECT media_count, total_bytes FROM org_usage WHERE org_id = ?').get(orgId) as
        | { media_count: number; total_bytes: number }
        | undefined,
    );
    return { mediaCount: r?.media_count ?? 0, totalBytes: r?.total_bytes ?? 0 };
  }

  async referencedBlobKeys(blobKeys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    translate(() => {
      const lookup = this.#statement('SELECT 1 FROM media WHERE blob_key = ?');
      for (const key of blobKeys) if (lookup.get(key)) found.add(key);
    });
    return found;
  }

  async createSuite(suite: Suite): Promise<void> {
    translate(() =>
      this.#conn
        .prepare('INSERT INTO suites (id, name, suite_key, secret_ciphertext, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(suite.id, suite.name, suite.suiteKey, suite.secretCiphertext, suite.createdAt),
    );
    await this.#durable();
  }

  async getSuiteByKey(suiteKey: string): Promise<Suite | null> {
    const r = translate(() => this.#statement('SELECT * FROM suites WHERE suite_key = ?').get(suiteKey) as SuiteRecord | undefined);
    return r ? toSuite(r) : null;
  }

  async listSuites(): Promise<Suite[]> {
    return translate(() => (this.#statement('SELECT * FROM suites ORDER BY created_at, id').all() as SuiteRecord[]).map(toSuite));
  }

  async authorizeSuite(a: SuiteAuthorization): Promise<void> {
    translate(() =>
      this.#conn
        .prepare('INSERT INTO suite_authorizations (suite_id, org_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
        .run(a.suiteId, a.orgId, a.createdAt),
    );
    await this.#durable();
  }

  async isSuiteAuthorized(suiteId: string, orgId: string): Promise<boolean> {
    return translate(
      () => this.#statement('SELECT 1 FROM suite_authorizations WHERE suite_id = ? AND org_id = ?').get(suiteId, orgId) !== undefined,
    );
  }

  async revokeSuite(suiteId: string, orgId: string): Promise<boolean> {
    const revoked = translate(
      () => this.#statement('DELETE FROM suite_authorizations WHERE suite_id = ? AND org_id = ?').run(suiteId, orgId).changes > 0,
    );
    await this.#durable();
    return revoked;
  }

  async listSuiteAuthorizations(suiteId: string): Promise<SuiteAuthorization[]> {
    return translate(() =>
      (this.#statement('SELECT * FROM suite_authorizations WHERE suite_id = ? ORDER BY created_at, org_id').all(suiteId) as SuiteAuthorizationRecord[])
        .map(toSuiteAuthorization),
    );
  }

  async addSuiteTicket(t: SuiteTicketRow, keep: number): Promise<void> {
    const db = this.#conn;
    translate(() =>
      db.transaction(() => {
        this.#statement('INSERT INTO suite_tickets (suite_id, seq, ticket_hash, nonce, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(t.suiteId, t.seq, t.ticketHash, t.nonce, t.createdAt);
        this.#statement('DELETE FROM suite_tickets WHERE suite_id = ? AND seq <= ?').run(t.suiteId, t.seq - keep);
      }).immediate(),
    );
    await this.#durable();
  }

  async latestSuiteTickets(suiteId: string, limit: number): Promise<SuiteTicketRow[]> {
    return translate(() =>
      (this.#statement('SELECT * FROM suite_tickets WHERE suite_id = ? ORDER BY seq DESC LIMIT ?').all(suiteId, limit) as SuiteTicketRecord[])
        .map(toSuiteTicket),
    );
  }
}
