-- Files an agent read or wrote in a session, and the tokens it spent.

-- +goose Up
CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    path       TEXT    NOT NULL CHECK (path <> ''),
    -- Lower-case hex SHA-256 of the content, NULL when unknown.
    sha256     TEXT    CHECK (sha256 IS NULL OR (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*')),
    size       INTEGER CHECK (size IS NULL OR size >= 0),
    updated_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    -- One row per path and session; its index also serves the foreign key.
    UNIQUE (session_id, path)
) STRICT;

CREATE TABLE token_usage (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    model         TEXT    NOT NULL CHECK (model <> ''),
    input_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

-- Usage per session over time; also serves the foreign key.
CREATE INDEX token_usage_session_id_created_at ON token_usage (session_id, created_at);

-- +goose Down
DROP TABLE token_usage;
DROP TABLE files;
