// The statements both metadata stores run, each written once (Kysely) with one ordering, and
// compiled once per engine when a store is built: no query builder runs per call. A statement's
// values are named: `a.mediaId` below is a placeholder, not a value. SQLite gets `@mediaId` and
// better-sqlite3 binds the caller's object by name; PostgreSQL gets `$n` and values() lays the
// object's fields out in that order. Rows come back under the seam's own field names (aliases).

import { SqliteQueryCompiler, sql, type Compilable, type Expression, type Kysely, type RawBuilder } from 'kysely';
import type { App, MediaRow, Org, Suite, SuiteAuthorization, SuiteTicketRow, TokenRow, UploadChunkRow, UploadSessionRow } from './interface.ts';
import { sqlBuilder, type Engine, type Tables } from './schema.ts';

/** A named value of a statement, resolved per call. */
class Placeholder {
  constructor(readonly name: string) {}
}

export interface Statement<Args extends object, Row> {
  readonly sql: string;
  /** How many values the statement takes (SQLite: none means "call without an object"). */
  readonly arity: number;
  /** PostgreSQL: the values in $1..$n order. (SQLite binds `args` itself, by name.) */
  values(args: Args): unknown[];
  /** Type only: what a row of the result looks like. */
  readonly row?: Row;
}

/** SQLite: `@name` for each placeholder, so that better-sqlite3 binds by name with no copying. */
class NamedSqliteCompiler extends SqliteQueryCompiler {
  protected override appendValue(value: unknown): void {
    if (!(value instanceof Placeholder)) throw new Error('statements take placeholders only');
    this.addParameter(value);
    this.append(`@${value.name}`);
  }
}

/** Compiles statements for one engine: `define((a) => query using a.x, a.y)`. */
export function statementCompiler(engine: Engine): {
  db: Kysely<Tables>;
  define<Args extends object, Row>(build: (a: Args) => Compilable<Row>): Statement<Args, Row>;
  /** A text key ordered by code point on both engines (see byteOrdered below). */
  ordered(column: string): RawBuilder<unknown>;
} {
  const db = sqlBuilder(engine, engine === 'sqlite' ? () => new NamedSqliteCompiler() : undefined);
  const placeholders = new Proxy({}, { get: (_, name) => new Placeholder(String(name)) });
  return {
    db,
    define<Args extends object, Row>(build: (a: Args) => Compilable<Row>): Statement<Args, Row> {
      const compiled = build(placeholders as Args).compile();
      const names = compiled.parameters.map((p) => {
        if (!(p instanceof Placeholder)) throw new Error(`statement value is not a placeholder: ${compiled.sql}`);
        return p.name as keyof Args;
      });
      return { sql: compiled.sql, arity: names.length, values: (args) => names.map((name) => args[name]) };
    },
    ordered: (column) => byteOrdered(engine, column),
  };
}

/**
 * Engine branch: text ordered by code point on both. SQLite's BINARY collation already is;
 * PostgreSQL's default may be a locale's (en_US sorts 'a' before 'B'), hence "C" (the collation of
 * the listing index, schema.ts migration 4).
 */
function byteOrdered(engine: Engine, column: string): RawBuilder<unknown> {
  return engine === 'postgres' ? sql`${sql.ref(column)} collate "C"` : sql`${sql.ref(column)}`;
}

const ORG = ['id', 'name', 'corp_id as corpId', 'created_at as createdAt', 'quota_bytes as quotaBytes', 'rate_limit_per_second as rateLimitPerSecond'] as const;
const APP = ['id', 'org_id as orgId', 'name', 'app_key as appKey', 'secret_hash as secretHash', 'created_at as createdAt', 'wire'] as const;
const TOKEN = ['token_hash as tokenHash', 'nonce', 'principal', 'org_id as orgId', 'issued_at as issuedAt', 'expires_at as expiresAt', 'wire'] as const;
const MEDIA = [
  'media_id as mediaId', 'org_id as orgId', 'uploaded_by as uploadedBy', 'type', 'format', 'file_name as fileName',
  'size', 'sha256', 'blob_key as blobKey', 'created_at as createdAt', 'wire', 'expires_at as expiresAt',
] as const;
const SESSION = [
  'id', 'org_id as orgId', 'wire', 'principal', 'protocol', 'file_size as fileSize', 'chunk_count as chunkCount', 'metadata',
  'created_at as createdAt', 'expires_at as expiresAt',
] as const;
const CHUNK = ['session_id as sessionId', 'seq', 'offset_bytes as offset', 'size', 'sha256', 'blob_key as blobKey', 'created_at as createdAt'] as const;
const SUITE = ['id', 'name', 'suite_key as suiteKey', 'secret_ciphertext as secretCiphertext', 'created_at as createdAt'] as const;
const AUTHORIZATION = ['suite_id as suiteId', 'org_id as orgId', 'created_at as createdAt'] as const;
const TICKET = ['suite_id as suiteId', 'seq', 'ticket_hash as ticketHash', 'nonce', 'created_at as createdAt'] as const;

export function sharedStatements(engine: Engine) {
  const { db, define, ordered } = statementCompiler(engine);
  const asc = (e: Expression<unknown>) => sql`${e} asc`;
  const desc = (e: Expression<unknown>) => sql`${e} desc`;
  return {
    insertOrg: define<Org, never>((a) => db.insertInto('orgs').values({
      id: a.id, name: a.name, corp_id: a.corpId, created_at: a.createdAt, quota_bytes: a.quotaBytes, rate_limit_per_second: a.rateLimitPerSecond,
    })),
    /** The org's usage row, made with the org (and by the first insert of an org older than that rule). */
    ensureUsage: define<{ orgId: string }, never>((a) => db.insertInto('org_usage').values({ org_id: a.orgId })
      .onConflict((oc) => oc.column('org_id').doNothing())),
    orgById: define<{ id: string }, Org>((a) => db.selectFrom('orgs').select(ORG).where('id', '=', a.id)),
    orgByName: define<{ name: string }, Org>((a) => db.selectFrom('orgs').select(ORG).where('name', '=', a.name)),
    orgByCorpId: define<{ corpId: string }, Org>((a) => db.selectFrom('orgs').select(ORG).where('corp_id', '=', a.corpId)),
    listOrgs: define<object, Org>(() => db.selectFrom('orgs').select(ORG).orderBy('created_at').orderBy(asc(ordered('name')))),
    setOrgQuota: define<{ id: string; quotaBytes: number | null }, never>((a) =>
      db.updateTable('orgs').set({ quota_bytes: a.quotaBytes }).where('id', '=', a.id)),
    setOrgRate: define<{ id: string; rateLimitPerSecond: number | null }, never>((a) =>
      db.updateTable('orgs').set({ rate_limit_per_second: a.rateLimitPerSecond }).where('id', '=', a.id)),
    setOrgLimits: define<{ id: string; quotaBytes: number | null; rateLimitPerSecond: number | null }, never>((a) =>
      db.updateTable('orgs').set({ quota_bytes: a.quotaBytes, rate_limit_per_second: a.rateLimitPerSecond }).where('id', '=', a.id)),

    insertApp: define<App, never>((a) => db.insertInto('apps').values({
      id: a.id, org_id: a.orgId, name: a.name, app_key: a.appKey, secret_hash: a.secretHash, created_at: a.createdAt, wire: a.wire,
    })),
    appByKey: define<{ appKey: string }, App>((a) => db.selectFrom('apps').select(APP).where('app_key', '=', a.appKey)),
    appById: define<{ id: string }, App>((a) => db.selectFrom('apps').select(APP).where('id', '=', a.id)),
    listApps: define<object, App>(() => db.selectFrom('apps').select(APP).orderBy('created_at').orderBy(asc(ordered('id')))),
    listAppsOfOrg: define<{ orgId: string }, App>((a) =>
      db.selectFrom('apps').select(APP).where('org_id', '=', a.orgId).orderBy('created_at').orderBy(asc(ordered('id')))),
    countApps: define<object, { n: number }>(() => db.selectFrom('apps').select((eb) => eb.fn.countAll<number>().as('n'))),
    setAppSecret: define<{ id: string; secretHash: string }, never>((a) =>
      db.updateTable('apps').set({ secret_hash: a.secretHash }).where('id', '=', a.id)),
    deleteApp: define<{ id: string }, never>((a) => db.deleteFrom('apps').where('id', '=', a.id)),

    insertToken: define<TokenRow, never>((a) => db.insertInto('tokens').values({
      token_hash: a.tokenHash, nonce: a.nonce, principal: a.principal, org_id: a.orgId, issued_at: a.issuedAt, expires_at: a.expiresAt, wire: a.wire,
    })),
    tokenByHash: define<{ tokenHash: string }, TokenRow>((a) => db.selectFrom('tokens').select(TOKEN).where('token_hash', '=', a.tokenHash)),
    /** Valid means now < expires_at (api.md: 42001 once past its 7200 s); the newest issued wins. */
    validToken: define<{ principal: string; orgId: string; now: number }, TokenRow>((a) => db.selectFrom('tokens').select(TOKEN)
      .where('principal', '=', a.principal).where('org_id', '=', a.orgId).where('expires_at', '>', a.now)
      .orderBy('issued_at', 'desc').orderBy('expires_at', 'desc').orderBy(desc(ordered('token_hash'))).limit(sql.lit(1))),
    renewToken: define<{ tokenHash: string; expiresAt: number }, never>((a) =>
      db.updateTable('tokens').set({ expires_at: a.expiresAt }).where('token_hash', '=', a.tokenHash)),
    deleteTokens: define<{ principal: string; orgId: string }, never>((a) =>
      db.deleteFrom('tokens').where('principal', '=', a.principal).where('org_id', '=', a.orgId)),
    deleteExpiredTokens: define<{ now: number }, never>((a) => db.deleteFrom('tokens').where('expires_at', '<=', a.now)),
    deleteToken: define<{ tokenHash: string }, TokenRow>((a) => db.deleteFrom('tokens').where('token_hash', '=', a.tokenHash).returning(TOKEN)),

    // deleteOrg: what is the org's, children first (foreign keys), in one transaction.
    deleteTokensOfOrg: define<{ orgId: string }, never>((a) => db.deleteFrom('tokens').where('org_id', '=', a.orgId)),
    deleteAppsOfOrg: define<{ orgId: string }, never>((a) => db.deleteFrom('apps').where('org_id', '=', a.orgId)),
    deleteAuthorizationsOfOrg: define<{ orgId: string }, never>((a) => db.deleteFrom('suite_authorizations').where('org_id', '=', a.orgId)),
    /** SQLite: the rows' media_bytes go with them (ON DELETE CASCADE). */
    deleteMediaOfOrg: define<{ orgId: string }, { blobKey: string }>((a) =>
      db.deleteFrom('media').where('org_id', '=', a.orgId).returning('blob_key as blobKey')),
    deleteUsageOfOrg: define<{ orgId: string }, never>((a) => db.deleteFrom('org_usage').where('org_id', '=', a.orgId)),
    deleteOrg: define<{ id: string }, never>((a) => db.deleteFrom('orgs').where('id', '=', a.id)),

    insertMedia: define<MediaRow, never>((a) => db.insertInto('media').values({
      media_id: a.mediaId, org_id: a.orgId, uploaded_by: a.uploadedBy, type: a.type, format: a.format, file_name: a.fileName,
      size: a.size, sha256: a.sha256, blob_key: a.blobKey, created_at: a.createdAt, wire: a.wire, expires_at: a.expiresAt,
    })),
    mediaById: define<{ mediaId: string }, MediaRow>((a) => db.selectFrom('media').select(MEDIA).where('media_id', '=', a.mediaId)),
    /** listMedia's first page: newest first. */
    listMedia: define<{ orgId: string; limit: number }, MediaRow>((a) => db.selectFrom('media').select(MEDIA)
      .where('org_id', '=', a.orgId)
      .orderBy('created_at', 'desc').orderBy(desc(ordered('media_id'))).limit(a.limit)),
    /** The next page: rows strictly older than the cursor in the same order. */
    listMediaAfter: define<{ orgId: string; createdAt: number; mediaId: string; limit: number }, MediaRow>((a) => db.selectFrom('media').select(MEDIA)
      .where('org_id', '=', a.orgId)
      .where(sql<boolean>`(created_at, ${ordered('media_id')}) < (${a.createdAt}, ${a.mediaId})`)
      .orderBy('created_at', 'desc').orderBy(desc(ordered('media_id'))).limit(a.limit)),
    /** The expiry sweep: rows past their expiry, soonest first (index media_by_expiry). */
    expiredMedia: define<{ now: number; limit: number }, MediaRow>((a) => db.selectFrom('media').select(MEDIA)
      .where('expires_at', 'is not', null).where('expires_at', '<=', a.now)
      .orderBy('expires_at').orderBy(asc(ordered('media_id'))).limit(a.limit)),
    deleteMedia: define<{ mediaId: string }, MediaRow>((a) => db.deleteFrom('media').where('media_id', '=', a.mediaId).returning(MEDIA)),
    usage: define<{ orgId: string }, { mediaCount: number; totalBytes: number }>((a) =>
      db.selectFrom('org_usage').select(['media_count as mediaCount', 'total_bytes as totalBytes']).where('org_id', '=', a.orgId)),
    growUsage: define<{ orgId: string; count: number; bytes: number }, never>((a) => db.updateTable('org_usage')
      .set((eb) => ({ media_count: eb('media_count', '+', a.count), total_bytes: eb('total_bytes', '+', a.bytes) }))
      .where('org_id', '=', a.orgId)),
    shrinkUsage: define<{ orgId: string; bytes: number }, never>((a) => db.updateTable('org_usage')
      .set((eb) => ({ media_count: eb('media_count', '-', sql.lit(1)), total_bytes: eb('total_bytes', '-', a.bytes) }))
      .where('org_id', '=', a.orgId)),

    /** The quota check's figure: committed bytes plus those open upload sessions reserve. */
    quotaUsage: define<{ orgId: string }, { usedBytes: number }>((a) =>
      db.selectFrom('org_usage').select(sql<number>`total_bytes + reserved_bytes`.as('usedBytes')).where('org_id', '=', a.orgId)),
    /** An upload session's reservation, within the quota: one conditional UPDATE (row-locked on PostgreSQL). */
    reserveWithinQuota: define<{ orgId: string; bytes: number; quotaBytes: number }, never>((a) => db.updateTable('org_usage')
      .set((eb) => ({ reserved_bytes: eb('reserved_bytes', '+', a.bytes) }))
      .where('org_id', '=', a.orgId).where(sql<boolean>`total_bytes + reserved_bytes + ${a.bytes} <= ${a.quotaBytes}`)),
    reserve: define<{ orgId: string; bytes: number }, never>((a) => db.updateTable('org_usage')
      .set((eb) => ({ reserved_bytes: eb('reserved_bytes', '+', a.bytes) })).where('org_id', '=', a.orgId)),
    releaseReservation: define<{ orgId: string; bytes: number }, never>((a) => db.updateTable('org_usage')
      .set((eb) => ({ reserved_bytes: eb('reserved_bytes', '-', a.bytes) })).where('org_id', '=', a.orgId)),
    insertUploadSession: define<UploadSessionRow, never>((a) => db.insertInto('upload_sessions').values({
      id: a.id, org_id: a.orgId, wire: a.wire, principal: a.principal, protocol: a.protocol, file_size: a.fileSize,
      chunk_count: a.chunkCount, metadata: a.metadata, created_at: a.createdAt, expires_at: a.expiresAt,
    })),
    uploadSessionById: define<{ id: string }, UploadSessionRow>((a) => db.selectFrom('upload_sessions').select(SESSION).where('id', '=', a.id)),
    deleteUploadSession: define<{ id: string }, UploadSessionRow>((a) => db.deleteFrom('upload_sessions').where('id', '=', a.id).returning(SESSION)),
    /** A chunk under a (session, seq) already taken is not inserted: the caller reads the one there. */
    insertUploadChunk: define<UploadChunkRow, never>((a) => db.insertInto('upload_chunks').values({
      session_id: a.sessionId, seq: a.seq, offset_bytes: a.offset, size: a.size, sha256: a.sha256, blob_key: a.blobKey, created_at: a.createdAt,
    }).onConflict((oc) => oc.columns(['session_id', 'seq']).doNothing())),
    uploadChunk: define<{ sessionId: string; seq: number }, UploadChunkRow>((a) => db.selectFrom('upload_chunks').select(CHUNK)
      .where('session_id', '=', a.sessionId).where('seq', '=', a.seq)),
    listUploadChunks: define<{ sessionId: string; afterSeq: number; limit: number }, UploadChunkRow>((a) => db.selectFrom('upload_chunks').select(CHUNK)
      .where('session_id', '=', a.sessionId).where('seq', '>', a.afterSeq).orderBy('seq').limit(a.limit)),
    uploadProgress: define<{ sessionId: string }, { chunks: number; bytes: number; lastSeq: number }>((a) => db.selectFrom('upload_chunks')
      .select([
        sql<number>`count(*)`.as('chunks'), sql<number>`coalesce(sum(size), 0)`.as('bytes'), sql<number>`coalesce(max(seq), 0)`.as('lastSeq'),
      ]).where('session_id', '=', a.sessionId)),
    deleteChunksOfSession: define<{ sessionId: string }, { blobKey: string }>((a) =>
      db.deleteFrom('upload_chunks').where('session_id', '=', a.sessionId).returning('blob_key as blobKey')),
    expiredUploadSessions: define<{ now: number; limit: number }, UploadSessionRow>((a) => db.selectFrom('upload_sessions').select(SESSION)
      .where('expires_at', '<=', a.now).orderBy('expires_at').orderBy(asc(ordered('id'))).limit(a.limit)),
    maxChunkedBytes: define<{ orgId: string }, { bytes: number }>((a) =>
      db.selectFrom('org_chunk_limits').select('max_chunked_bytes as bytes').where('org_id', '=', a.orgId)),
    setMaxChunkedBytes: define<{ orgId: string; bytes: number }, never>((a) => db.insertInto('org_chunk_limits')
      .values({ org_id: a.orgId, max_chunked_bytes: a.bytes })
      .onConflict((oc) => oc.column('org_id').doUpdateSet({ max_chunked_bytes: a.bytes }))),
    clearMaxChunkedBytes: define<{ orgId: string }, never>((a) => db.deleteFrom('org_chunk_limits').where('org_id', '=', a.orgId)),
    // deleteOrg: its sessions' chunks, its sessions and its chunk cap.
    deleteChunksOfOrg: define<{ orgId: string }, { blobKey: string }>((a) => db.deleteFrom('upload_chunks')
      .where('session_id', 'in', db.selectFrom('upload_sessions').select('id').where('org_id', '=', a.orgId)).returning('blob_key as blobKey')),
    deleteSessionsOfOrg: define<{ orgId: string }, never>((a) => db.deleteFrom('upload_sessions').where('org_id', '=', a.orgId)),
    deleteChunkLimitOfOrg: define<{ orgId: string }, never>((a) => db.deleteFrom('org_chunk_limits').where('org_id', '=', a.orgId)),

    insertSuite: define<Suite, never>((a) => db.insertInto('suites').values({
      id: a.id, name: a.name, suite_key: a.suiteKey, secret_ciphertext: a.secretCiphertext, created_at: a.createdAt,
    })),
    suiteByKey: define<{ suiteKey: string }, Suite>((a) => db.selectFrom('suites').select(SUITE).where('suite_key', '=', a.suiteKey)),
    listSuites: define<object, Suite>(() => db.selectFrom('suites').select(SUITE).orderBy('created_at').orderBy(asc(ordered('id')))),
    /** Idempotent: authorizing again keeps the first authorization. */
    authorizeSuite: define<SuiteAuthorization, never>((a) => db.insertInto('suite_authorizations')
      .values({ suite_id: a.suiteId, org_id: a.orgId, created_at: a.createdAt })
      .onConflict((oc) => oc.columns(['suite_id', 'org_id']).doNothing())),
    suiteAuthorization: define<{ suiteId: string; orgId: string }, { one: number }>((a) => db.selectFrom('suite_authorizations')
      .select(sql<number>`1`.as('one')).where('suite_id', '=', a.suiteId).where('org_id', '=', a.orgId)),
    revokeSuite: define<{ suiteId: string; orgId: string }, never>((a) =>
      db.deleteFrom('suite_authorizations').where('suite_id', '=', a.suiteId).where('org_id', '=', a.orgId)),
    listSuiteAuthorizations: define<{ suiteId: string }, SuiteAuthorization>((a) => db.selectFrom('suite_authorizations').select(AUTHORIZATION)
      .where('suite_id', '=', a.suiteId).orderBy('created_at').orderBy(asc(ordered('org_id')))),
    insertSuiteTicket: define<SuiteTicketRow, never>((a) => db.insertInto('suite_tickets').values({
      suite_id: a.suiteId, seq: a.seq, ticket_hash: a.ticketHash, nonce: a.nonce, created_at: a.createdAt,
    })),
    dropSuiteTickets: define<{ suiteId: string; upToSeq: number }, never>((a) =>
      db.deleteFrom('suite_tickets').where('suite_id', '=', a.suiteId).where('seq', '<=', a.upToSeq)),
    latestSuiteTickets: define<{ suiteId: string; limit: number }, SuiteTicketRow>((a) => db.selectFrom('suite_tickets').select(TICKET)
      .where('suite_id', '=', a.suiteId).orderBy('seq', 'desc').limit(a.limit)),
  };
}

export type SharedStatements = ReturnType<typeof sharedStatements>;
