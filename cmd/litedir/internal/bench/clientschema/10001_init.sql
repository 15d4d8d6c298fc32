-- The schema of litedir bench -workload client: shaped like a real coding
-- agent's sqlc client rather than litedir's built-in example. Ids are text
-- UUIDs made by the program, message parts are a JSON array kept as TEXT
-- (0.2–4 KiB each), a trigger keeps each session's message count, and three
-- indexes serve the client's lists. Timestamps are Unix milliseconds.
--
-- Its version, 10001, is none of migrations.Builtin's: a workspace that one
-- workload made and another opens is refused with nothing changed (the
-- built-in schema finds a version newer than its own; this one's migration
-- fails on the tables that exist and rolls back), instead of goose taking
-- one schema's version 1 for the other's.

-- +goose Up
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    parent_session_id TEXT,
    title             TEXT    NOT NULL,
    message_count     INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost              REAL    NOT NULL DEFAULT 0.0 CHECK (cost >= 0.0),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL,
    parts       TEXT    NOT NULL DEFAULT '[]',
    model       TEXT,
    provider    TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    finished_at INTEGER
);

-- A session's conversation, in order; also serves the foreign key.
CREATE INDEX messages_by_session ON messages (session_id, created_at);
-- Messages across sessions by time (history, search, clean-up).
CREATE INDEX messages_by_time ON messages (created_at);
-- The session list, most recently active first: every write moves its
-- session in this index.
CREATE INDEX sessions_by_activity ON sessions (updated_at);

-- The session's message count is the database's business, not the
-- client's: every insert into messages counts itself.
-- +goose StatementBegin
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages
BEGIN
    UPDATE sessions SET message_count = message_count + 1 WHERE id = new.session_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages
BEGIN
    UPDATE sessions SET message_count = message_count - 1 WHERE id = old.session_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER messages_count_delete;
DROP TRIGGER messages_count_insert;
DROP TABLE messages;
DROP TABLE sessions;
