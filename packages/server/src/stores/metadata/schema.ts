// The one schema of the metadata stores: the tables' types (for the statements of statements.ts)
// and the one migration list, both engines. A TypeScript module, not .sql files read at run time,
// so that the esbuild bundle carries it. SQLite records the version in `PRAGMA user_version`,
// PostgreSQL in schema_migrations; version N is the same migration on both.

import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type Compilable,
  type Dialect,
  type Generated,
  type QueryCompiler,
} from 'kysely';

export type Engine = 'sqlite' | 'postgres';

/** Column types as the drivers return them: epoch ms and byte counts are JS numbers on both. */
export interface Tables {
  orgs: { id: string; name: string; corp_id: string; created_at: number; quota_bytes: number | null; rate_limit_per_second: number | null };
  apps: { id: string; org_id: string; name: string; app_key: string; secret_hash: string; created_at: number; wire: Generated<string> };
  tokens: { token_hash: string; nonce: string; principal: string; org_id: string; issued_at: number; expires_at: number; wire: Generated<string> };
  media: {
    /** SQLite only: the row's rowid, the key of its media_bytes. */
    seq: Generated<number>;
    media_id: string; org_id: string; uploaded_by: string; type: string; format: string; file_name: string;
    size: number; sha256: string; blob_key: string; created_at: number;
    wire: Generated<string>; expires_at: number | null;
  };
  /** SQLite only. */
  media_bytes: { seq: number; bytes: Buffer };
  org_usage: { org_id: string; media_count: Generated<number>; total_bytes: Generated<number>; reserved_bytes: Generated<number> };
  suites: { id: string; name: string; suite_key: string; secret_ciphertext: string; created_at: number };
  suite_authorizations: { suite_id: string; org_id: string; created_at: number };
  suite_tickets: { suite_id: string; seq: number; ticket_hash: string; nonce: string; created_at: number };
  /** Migration 6: an org's cap for one chunked (session) upload; null = the server default. */
  org_chunk_limits: { org_id: string; max_chunked_bytes: number };
  /** Migration 6: one file sent in several requests (DingTalk's chunked upload, tus). */
  upload_sessions: {
    id: string; org_id: string; wire: string; principal: string; protocol: string;
    file_size: number | null; chunk_count: number | null; metadata: string;
    created_at: number; expires_at: number;
  };
  /** Migration 6: one acknowledged chunk of a session, its bytes a blob of its own. */
  upload_chunks: { session_id: string; seq: number; offset_bytes: number; size: number; sha256: string; blob_key: string; created_at: number };
}

/** A Kysely that only compiles (no driver): the stores run the SQL on their own connections. */
export function sqlBuilder(engine: Engine, compiler?: () => QueryCompiler): Kysely<Tables> {
  const dialect: Dialect = engine === 'sqlite'
    ? {
        createAdapter: () => new SqliteAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new SqliteIntrospector(db),
        createQueryCompiler: compiler ?? (() => new SqliteQueryCompiler()),
      }
    : {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: compiler ?? (() => new PostgresQueryCompiler()),
      };
  return new Kysely<Tables>({ dialect });
}

export interface Migration {
  version: number;
  name: string;
  /** The DDL for this engine, in order; none when the migration concerns the other engine only. */
  statements(engine: Engine): string[];
}

const compiled = (queries: Compilable[]): string[] => queries.map((query) => query.compile().sql);

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    statements(engine) {
      const db = sqlBuilder(engine);
      return compiled([
        db.schema.createTable('orgs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('corp_id', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('quota_bytes', 'bigint')
          .addColumn('rate_limit_per_second', 'double precision'),
        db.schema.createTable('apps')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('app_key', 'text', (c) => c.notNull().unique())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull()),
        // Only hashes of tokens are stored (api.md: a leaked database does not leak them).
        db.schema.createTable('tokens')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('principal', 'text', (c) => c.notNull())
          .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
          .addColumn('issued_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull()),
        // Engine branch: on SQLite a row has a rowid `seq` (AUTOINCREMENT: never reused), the key
        // of its inline bytes (media_bytes, migration 3); PostgreSQL keys media by media_id alone.
        (engine === 'sqlite'
          ? db.schema.createTable('media')
              .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
              .addColumn('media_id', 'text', (c) => c.notNull().unique())
          : db.schema.createTable('media').addColumn('media_id', 'text', (c) => c.primaryKey()))
          .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
          .addColumn('uploaded_by', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('format', 'text', (c) => c.notNull())
          .addColumn('file_name', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull().check(sql`size >= 0`))
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('blob_key', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull()),
        // One row per org, kept in step with media in the same transactions (the quota check).
        db.schema.createTable('org_usage')
          .addColumn('org_id', 'text', (c) => c.primaryKey().references('orgs.id'))
          .addColumn('media_count', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`media_count >= 0`))
          .addColumn('total_bytes', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`total_bytes >= 0`)),
      ]);
    },
  },
  {
    version: 2,
    // Third-party suites (issue 8), their authorizations by orgs, and their rotating tickets.
    // Suite secrets are encrypted, not hashed: a get_corp_token signature is an HMAC keyed with it.
    name: 'suites',
    statements(engine) {
      const db = sqlBuilder(engine);
      return compiled([
        db.schema.createTable('suites')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('suite_key', 'text', (c) => c.notNull().unique())
          .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull()),
        db.schema.createTable('suite_authorizations')
          .addColumn('suite_id', 'text', (c) => c.notNull().references('suites.id'))
          .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('suite_authorizations_pkey', ['suite_id', 'org_id']),
        // (suite_id, seq) is the key: two nodes rotating at once both try newest + 1, one conflicts.
        db.schema.createTable('suite_tickets')
          .addColumn('suite_id', 'text', (c) => c.notNull().references('suites.id'))
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('ticket_hash', 'text', (c) => c.notNull())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('suite_tickets_pkey', ['suite_id', 'seq']),
      ]);
    },
  },
  {
    version: 3,
    name: 'media_bytes',
    // Engine branch: SQLite only. The bytes of small media, kept with their row (inlineMaxBytes),
    // gone with it. PostgreSQL nodes share S3 for bytes: the version is recorded, nothing runs.
    statements(engine) {
      if (engine !== 'sqlite') return [];
      const db = sqlBuilder(engine);
      return compiled([
        db.schema.createTable('media_bytes')
          .addColumn('seq', 'integer', (c) => c.primaryKey().references('media.seq').onDelete('cascade'))
          .addColumn('bytes', 'blob', (c) => c.notNull()),
      ]);
    },
  },
  {
    version: 4,
    // The indexes of the shared statements, one set for both engines. Databases made before this
    // list existed had each engine's own (SQLite tokens_by_principal and media_by_org, PostgreSQL
    // tokens_principal_org, media_org_created, tokens_expires_at, apps_org_id): those go.
    name: 'shared_indexes',
    statements(engine) {
      const db = sqlBuilder(engine);
      const legacy = ['tokens_by_principal', 'media_by_org', 'media_by_org_created', 'tokens_principal_org', 'media_org_created', 'tokens_expires_at', 'apps_org_id'];
      return compiled([
        ...legacy.map((name) => db.schema.dropIndex(name).ifExists()),
        db.schema.createIndex('apps_by_org').on('apps').columns(['org_id', 'created_at', 'id']),
        // findValidToken: a principal's newest token in an org.
        db.schema.createIndex('tokens_by_principal_issued').on('tokens').columns(['principal', 'org_id', 'issued_at', 'expires_at']),
        // deleteExpiredTokens.
        db.schema.createIndex('tokens_by_expiry').on('tokens').column('expires_at'),
        // listMedia: an org's media newest first, by (created_at, media_id), walked backwards.
        engine === 'postgres'
          ? db.schema.createIndex('media_by_org_newest').on('media').expression(sql`org_id, created_at, media_id collate "C"`)
          : db.schema.createIndex('media_by_org_newest').on('media').columns(['org_id', 'created_at', 'media_id']),
      ]);
    },
  },
  {
    version: 5,
    // Issue 16, one core for three wires: apps, their tokens and media carry their wire (rows made
    // before are DingTalk's), and a media may expire (WeCom's temporary media_id: 3 days).
    name: 'wires_and_expiry',
    statements(engine) {
      const db = sqlBuilder(engine);
      const wireColumn = (table: 'apps' | 'tokens' | 'media') =>
        db.schema.alterTable(table).addColumn('wire', 'text', (c) => c.notNull().defaultTo('dingtalk'));
      return compiled([
        wireColumn('apps'),
        wireColumn('tokens'),
        wireColumn('media'),
        db.schema.alterTable('media').addColumn('expires_at', 'bigint'),
        // The expiry sweep: the expiring rows only (DingTalk's and Feishu's never expire).
        db.schema.createIndex('media_by_expiry').on('media').column('expires_at').where(sql<boolean>`expires_at is not null`),
      ]);
    },
  },
  {
    version: 6,
    // Issue 18, large files: upload sessions and their chunks (bytes in the BlobStore, each chunk a
    // blob), the bytes an open session reserves of its org's quota, and a per-org chunked-file cap.
    name: 'upload_sessions',
    statements(engine) {
      const db = sqlBuilder(engine);
      return compiled([
        db.schema.alterTable('org_usage').addColumn('reserved_bytes', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`reserved_bytes >= 0`)),
        db.schema.createTable('org_chunk_limits')
          .addColumn('org_id', 'text', (c) => c.primaryKey().references('orgs.id'))
          .addColumn('max_chunked_bytes', 'bigint', (c) => c.notNull().check(sql`max_chunked_bytes >= 0`)),
        db.schema.createTable('upload_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id'))
          .addColumn('wire', 'text', (c) => c.notNull())
          .addColumn('principal', 'text', (c) => c.notNull())
          .addColumn('protocol', 'text', (c) => c.notNull())
          .addColumn('file_size', 'bigint', (c) => c.check(sql`file_size >= 0`))
          .addColumn('chunk_count', 'bigint')
          .addColumn('metadata', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull()),
        db.schema.createIndex('upload_sessions_by_expiry').on('upload_sessions').column('expires_at'),
        db.schema.createTable('upload_chunks')
          .addColumn('session_id', 'text', (c) => c.notNull().references('upload_sessions.id').onDelete('cascade'))
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('offset_bytes', 'bigint', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull().check(sql`size >= 0`))
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('blob_key', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('upload_chunks_pkey', ['session_id', 'seq']),
      ]);
    },
  },
];
