-- The first schema: organizations, apps, tokens, media rows and per-org usage counters.
-- Timestamps are epoch milliseconds and sizes are bytes, both bigint (past 2^31).

CREATE TABLE orgs (
  id                    text PRIMARY KEY,
  name                  text NOT NULL UNIQUE,
  corp_id               text NOT NULL,
  created_at            bigint NOT NULL,
  quota_bytes           bigint,
  rate_limit_per_second double precision
);

CREATE TABLE apps (
  id          text PRIMARY KEY,
  org_id      text NOT NULL REFERENCES orgs (id),
  name        text NOT NULL,
  app_key     text NOT NULL UNIQUE,
  secret_hash text NOT NULL,
  created_at  bigint NOT NULL
);
CREATE INDEX apps_org_id ON apps (org_id);

-- Only hashes of tokens are stored (api.md "GET /gettoken": a leaked database does not leak them).
CREATE TABLE tokens (
  token_hash text PRIMARY KEY,
  nonce      text NOT NULL,
  principal  text NOT NULL,
  org_id     text NOT NULL REFERENCES orgs (id),
  issued_at  bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX tokens_principal_org ON tokens (principal, org_id, issued_at DESC);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

CREATE TABLE media (
  media_id    text PRIMARY KEY,
  org_id      text NOT NULL REFERENCES orgs (id),
  uploaded_by text NOT NULL,
  type        text NOT NULL,
  format      text NOT NULL,
  file_name   text NOT NULL,
  size        bigint NOT NULL CHECK (size >= 0),
  sha256      text NOT NULL,
  blob_key    text NOT NULL,
  created_at  bigint NOT NULL
);
-- listMedia walks an org newest first with a (created_at, media_id) cursor.
CREATE INDEX media_org_created ON media (org_id, created_at DESC, media_id DESC);
CREATE INDEX media_blob_key ON media (blob_key);

-- One row per org, kept in step with media in the same transactions: the quota check is a
-- conditional UPDATE of this row, which serializes concurrent inserts of one org on every node.
CREATE TABLE org_usage (
  org_id      text PRIMARY KEY REFERENCES orgs (id),
  media_count bigint NOT NULL DEFAULT 0 CHECK (media_count >= 0),
  total_bytes bigint NOT NULL DEFAULT 0 CHECK (total_bytes >= 0)
);
