-- Sessions and their messages: the core of an agent workspace.
--
-- Timestamps are Unix milliseconds (INTEGER), which sort and compare cheaply
-- and need no time-format agreement between writers.

-- +goose Up
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL DEFAULT '',
    agent         TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'paused', 'completed', 'failed', 'archived')),
    -- Maintained by the writer in the same transaction as the insert into
    -- messages (no trigger, so the writer controls the cost).
    message_count INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

-- "The latest N messages of a session" (WHERE session_id = ? ORDER BY id DESC
-- LIMIT N) walks this index backwards, and ON DELETE CASCADE uses it to find a
-- session's messages.
CREATE INDEX messages_session_id_id ON messages (session_id, id);

-- +goose Down
DROP TABLE messages;
DROP TABLE sessions;
