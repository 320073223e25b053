-- Third-party suites (issue 8): an ISV's app that many organizations authorize, the
-- authorizations, and the suite's rotating tickets (only the newest two are kept).
-- Suite secrets are stored encrypted, not hashed: checking a get_corp_token signature needs
-- HMAC-SHA256 keyed with the secret itself (docs/suites.md).

CREATE UNIQUE INDEX orgs_corp_id ON orgs (corp_id);

CREATE TABLE suites (
  id                text PRIMARY KEY,
  name              text NOT NULL,
  suite_key         text NOT NULL UNIQUE,
  secret_ciphertext text NOT NULL,
  created_at        bigint NOT NULL
);

CREATE TABLE suite_authorizations (
  suite_id   text NOT NULL REFERENCES suites (id),
  org_id     text NOT NULL REFERENCES orgs (id),
  created_at bigint NOT NULL,
  PRIMARY KEY (suite_id, org_id)
);

-- (suite_id, seq) is the key: two nodes rotating at once both try newest + 1 and one conflicts.
CREATE TABLE suite_tickets (
  suite_id    text NOT NULL REFERENCES suites (id),
  seq         bigint NOT NULL,
  ticket_hash text NOT NULL,
  nonce       text NOT NULL,
  created_at  bigint NOT NULL,
  PRIMARY KEY (suite_id, seq)
);
