package service

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: the front stays free of cgo

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// DBFile is the queue's SQLite database in the logdir.
const DBFile = "tfsweep-serve.db"

// Record is one sweep of the queue as stored.
type Record struct {
	Seq      int64       `json:"-"`
	ID       string      `json:"id"`
	State    spec.Status `json:"state"`
	SweepDir string      `json:"sweep_dir"` // relative to the logdir: the id

	Created  time.Time  `json:"created"`
	Started  *time.Time `json:"started,omitempty"`
	Ended    *time.Time `json:"ended,omitempty"`
	Attempts int        `json:"attempts"` // times training began: 2 or more after a restart resumed it
	ExitCode *int       `json:"exit_code,omitempty"`
	Error    string     `json:"error,omitempty"`
	Spec     string     `json:"-"`
	File     string     `json:"-"` // the name the spec's messages use
	// Result is the `tfsweep run --json` summary, as the sweep wrote it, once it ended.
	Result json.RawMessage `json:"result,omitempty"`
	final  []RunProgress   // the runs' last progress, once it ended
}

func (r *Record) finished() bool {
	return r.State == spec.StatusSucceeded || r.State == spec.StatusFailed || r.State == spec.StatusCancelled
}

// store is the queue on SQLite. One connection serialises every statement, so no statement meets
// SQLITE_BUSY within the process; a second process is kept out by the lock file.
type store struct{ db *sql.DB }

const schema = `
CREATE TABLE IF NOT EXISTS sweeps (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	id       TEXT UNIQUE,
	state    TEXT NOT NULL,
	spec     TEXT NOT NULL,
	file     TEXT NOT NULL,
	created  TEXT NOT NULL,
	started  TEXT,
	ended    TEXT,
	attempts INTEGER NOT NULL DEFAULT 0,
	exit_code INTEGER,
	error    TEXT NOT NULL DEFAULT '',
	result   TEXT,
	runs     TEXT
);
CREATE INDEX IF NOT EXISTS sweeps_state ON sweeps(state, seq);
`

func openStore(ctx context.Context, logdir string) (*store, error) {
	path := filepath.Join(logdir, DBFile)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("open the queue %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create the queue's tables in %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// add queues a sweep and returns it with its id, made from its sequence number.
func (s *store) add(ctx context.Context, body, file string, now time.Time) (*Record, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("queue a sweep: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO sweeps(state, spec, file, created) VALUES(?, ?, ?, ?)`, spec.StatusQueued, body, file, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("queue a sweep: %w", err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("queue a sweep: %w", err)
	}
	id := fmt.Sprintf("s-%06d", seq)
	if _, err := tx.ExecContext(ctx, `UPDATE sweeps SET id = ? WHERE seq = ?`, id, seq); err != nil {
		return nil, fmt.Errorf("queue sweep %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("queue sweep %s: %w", id, err)
	}
	return &Record{Seq: seq, ID: id, State: spec.StatusQueued, SweepDir: id, Created: now.UTC(), Spec: body, File: file}, nil
}

const columns = `seq, id, state, spec, file, created, started, ended, attempts, exit_code, error, result, runs`

func scan(row interface{ Scan(...any) error }) (*Record, error) {
	var (
		r                             Record
		created                       string
		started, ended, resJS, runsJS sql.NullString
		exit                          sql.NullInt64
	)
	if err := row.Scan(&r.Seq, &r.ID, &r.State, &r.Spec, &r.File, &created, &started, &ended, &r.Attempts, &exit, &r.Error, &resJS, &runsJS); err != nil {
		return nil, err
	}
	r.SweepDir = r.ID
	parse := func(s string) time.Time { t, _ := time.Parse(time.RFC3339Nano, s); return t }
	r.Created = parse(created)
	if started.Valid {
		t := parse(started.String)
		r.Started = &t
	}
	if ended.Valid {
		t := parse(ended.String)
		r.Ended = &t
	}
	if exit.Valid {
		c := int(exit.Int64)
		r.ExitCode = &c
	}
	if resJS.Valid {
		r.Result = json.RawMessage(resJS.String)
	}
	if runsJS.Valid {
		if err := json.Unmarshal([]byte(runsJS.String), &r.final); err != nil {
			return nil, fmt.Errorf("sweep %s: its stored progress: %w", r.ID, err)
		}
	}
	return &r, nil
}

// errNotFound is an unknown id.
var errNotFound = errors.New("no such sweep")

func (s *store) get(ctx context.Context, id string) (*Record, error) {
	r, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM sweeps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sweep %.40q: %w", id, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read sweep %.40q: %w", id, err)
	}
	return r, nil
}

// list pages through the sweeps in the order they were submitted: limit after the id after
// ("" from the first), only those in state ("" any).
func (s *store) list(ctx context.Context, state spec.Status, after string, limit int) ([]*Record, error) {
	afterSeq := int64(0)
	if after != "" {
		r, err := s.get(ctx, after)
		if err != nil {
			return nil, err
		}
		afterSeq = r.Seq
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM sweeps WHERE seq > ? AND (? = '' OR state = ?) ORDER BY seq LIMIT ?`,
		afterSeq, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list sweeps: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	return out, nil
}

// next claims the sweep to train: one left running by an earlier server first (resumed), else the
// oldest queued one, which becomes running. It returns nil when there is none.
func (s *store) next(ctx context.Context, now time.Time) (rec *Record, resumed bool, err error) {
	r, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM sweeps WHERE state = ? ORDER BY seq LIMIT 1`, spec.StatusRunning))
	switch {
	case err == nil:
		resumed = true
	case errors.Is(err, sql.ErrNoRows):
		r, err = scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM sweeps WHERE state = ? ORDER BY seq LIMIT 1`, spec.StatusQueued))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("take the next sweep: %w", err)
		}
	default:
		return nil, false, fmt.Errorf("take the running sweep: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE sweeps SET state = ?, started = COALESCE(started, ?), attempts = attempts + 1 WHERE seq = ?`,
		spec.StatusRunning, formatTime(now), r.Seq); err != nil {
		return nil, false, fmt.Errorf("start sweep %s: %w", r.ID, err)
	}
	out, err := s.get(ctx, r.ID)
	return out, resumed, err
}

// cancelQueued cancels a queued sweep; false when it was not queued.
func (s *store) cancelQueued(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE sweeps SET state = ?, ended = ?, exit_code = ?, error = ? WHERE id = ? AND state = ?`,
		spec.StatusCancelled, formatTime(now), spec.ExitInterrupted, "cancelled before it started", id, spec.StatusQueued)
	if err != nil {
		return false, fmt.Errorf("cancel sweep %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cancel sweep %s: %w", id, err)
	}
	return n == 1, nil
}

// finish records a sweep's end.
func (s *store) finish(ctx context.Context, id string, state spec.Status, code int, msg string, res *sweep.Result, runs []RunProgress, now time.Time) error {
	var resJS, runsJS any
	if res != nil {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("sweep %s: encode its result: %w", id, err)
		}
		resJS = string(b)
	}
	if runs != nil {
		b, err := json.Marshal(runs)
		if err != nil {
			return fmt.Errorf("sweep %s: encode its progress: %w", id, err)
		}
		runsJS = string(b)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE sweeps SET state = ?, ended = ?, exit_code = ?, error = ?, result = ?, runs = ? WHERE id = ?`,
		state, formatTime(now), code, msg, resJS, runsJS, id); err != nil {
		return fmt.Errorf("finish sweep %s: %w", id, err)
	}
	return nil
}

// count is the number of sweeps in state.
func (s *store) count(ctx context.Context, state spec.Status) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sweeps WHERE state = ?`, state).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s sweeps: %w", state, err)
	}
	return n, nil
}
