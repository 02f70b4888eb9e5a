-- 0002: what the secure app needs: sessions, held prices, and the indexes of its hot paths.

-- A login session. The token itself is never stored: only its SHA-256, so a copy of the
-- table cannot be used to log in. Revoked or expired sessions stay for audit until a
-- sweep deletes them.
CREATE TABLE sessions (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  csrf_token text NOT NULL CHECK (length(csrf_token) BETWEEN 32 AND 128),
  user_agent text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 500),
  client     text NOT NULL DEFAULT '' CHECK (length(client) <= 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- A hold keeps the price the buyer saw: a seller changing the price does not change what
-- an open checkout pays.
ALTER TABLE holds
  ADD COLUMN unit_price_minor money_minor,
  ADD COLUMN currency char(3) REFERENCES currencies;
UPDATE holds h SET unit_price_minor = l.price_minor, currency = l.currency
  FROM listings l WHERE l.id = h.listing_id;
ALTER TABLE holds
  ALTER COLUMN unit_price_minor SET NOT NULL,
  ALTER COLUMN currency SET NOT NULL;

-- Lazy expiry looks up a listing's active holds by expiry; the sweeper by expiry alone.
DROP INDEX holds_listing;
CREATE INDEX holds_listing_expiry ON holds (listing_id, expires_at) WHERE status = 'active';

-- A pairs listing is sold two by two, so it holds an even number of tickets.
ALTER TABLE listings ADD CONSTRAINT listings_pairs_even
  CHECK (split <> 'pairs' OR quantity % 2 = 0);


-- ISO 8601 in UTC with the offset spelled out, the API's time format.
CREATE FUNCTION tq_iso(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
