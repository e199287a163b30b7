package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
)

// boltSchema is the layout version written to the meta bucket. A file
// written by a newer layout is refused rather than misread.
const boltSchema = 1

// Bucket names. Tokens are JSON by id, with two indexes: key hash → id, and
// owner → ids (keys made by ownerKey, empty values). Revocations and
// failure counters are small fixed-size binary values; sessions use the
// compact encoding of session_codec.go.
var (
	bucketMeta        = []byte("meta")
	bucketTokens      = []byte("tokens")
	bucketTokenHashes = []byte("token_key_hashes")
	bucketTokenOwners = []byte("token_owners")
	bucketRevoked     = []byte("revoked")
	bucketSessions    = []byte("sessions")
	bucketFailures    = []byte("failures")
	bucketSecrets     = []byte("secrets")

	allBuckets = [][]byte{
		bucketMeta, bucketTokens, bucketTokenHashes, bucketTokenOwners,
		bucketRevoked, bucketSessions, bucketFailures, bucketSecrets,
	}

	keySchema = []byte("schema")
)

// boltBackend is one bbolt file, opened on its first operation: a
// process that provisions a config but never serves it (`caddy validate`)
// never takes the file's lock. Reads are View transactions only; expired
// records are skipped on read and deleted by a periodic sweep.
type boltBackend struct {
	path    string
	timeout time.Duration
	logger  *zap.Logger
	// openMu serialises opening; db is set once the file is open.
	openMu sync.Mutex
	db     atomic.Pointer[bolt.DB]
	// openErr is why the last try to open failed (nil: none failed yet),
	// and nextOpen when (a monoNow reading) the next may be made. Until
	// then an operation fails at once with openErr.
	openErr  atomic.Pointer[error]
	nextOpen atomic.Int64
	// closed is set, for good, when the store is closed (destroy).
	closed atomic.Bool
	// monoNow reads the monotonic clock of the retries (monotonic.Now
	// unless a test moves it); onOpenTry, when set, is told of each try.
	monoNow   func() monotonic.Instant
	onOpenTry func()
	// now tells the time that decides expiries (time.Now unless a test
	// moves it).
	now     func() time.Time
	sweeper *sweeper
	// mem is what the request path reads instead of the file; set, and
	// filled from the file, before db.
	mem *boltMemory
	// sweepLimits bounds the sweep's transactions (bolt_sweep.go);
	// onSweepBatch, when set, is told of each of them. Tests set both.
	sweepLimits  sweepLimits
	onSweepBatch func(sweepBatch)
	// onWriteBegun, when set, is called as a write other than the sweep's
	// begins, once it holds bbolt's writer lock: a benchmark times how
	// long a login waited for it.
	onWriteBegun func()
}

// openBolt returns the store of the file at path, which its first
// operation opens (creating it if needed), waiting at most timeout for
// another process to release its lock. A sweep runs every interval once
// the file is open.
func openBolt(path string, timeout, interval time.Duration, logger *zap.Logger) (*boltBackend, error) {
	b := &boltBackend{path: path, timeout: timeout, logger: logger, now: time.Now, monoNow: monotonic.Now}
	b.sweeper = startSweeper(interval, func() time.Time { return b.now() }, func(stop <-chan struct{}, now time.Time) {
		if b.db.Load() == nil {
			return // not opened yet: nothing to sweep
		}
		if err := b.sweepUntil(stop, now); err != nil && !errors.Is(err, errSweepHalted) {
			b.logger.Error("deleting expired records", zap.String("path", b.path), zap.Error(err))
		}
	})
	return b, nil
}

// boltOpenRetry is how often an operation tries again to open a file that
// could not be opened; the operations in between fail at once.
const boltOpenRetry = time.Second

// database returns the open file, opening it on first use. The first try
// waits up to b.timeout for another process to release the file's lock
// (a restarting Caddy's predecessor); operations that arrive meanwhile
// wait for it and share its outcome. When it fails (a lock another
// process keeps, a file that is not a store), the error wraps
// ErrUnavailable and is logged once; an operation tries again at most
// every boltOpenRetry (on the monotonic clock), without waiting for the
// lock, and the others fail at once with the same error, so no request
// waits for a file held elsewhere.
func (b *boltBackend) database() (*bolt.DB, error) {
	if db := b.db.Load(); db != nil {
		return db, nil
	}
	if b.closed.Load() {
		return nil, b.closedError()
	}
	if failed := b.openErr.Load(); failed != nil {
		if !b.openDue() || !b.openMu.TryLock() {
			return nil, *failed
		}
	} else {
		b.openMu.Lock()
	}
	defer b.openMu.Unlock()
	if db := b.db.Load(); db != nil {
		return db, nil
	}
	if b.closed.Load() {
		return nil, b.closedError()
	}
	timeout := b.timeout
	if failed := b.openErr.Load(); failed != nil {
		// A try failed, perhaps while this operation waited for it.
		if !b.openDue() {
			return nil, *failed
		}
		timeout = time.Nanosecond // one try of the lock
	}
	if b.onOpenTry != nil {
		b.onOpenTry()
	}
	db, mem, err := openBoltFile(b.path, timeout)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		if b.openErr.Swap(&err) == nil {
			b.logger.Error("cannot open token store; trying again every second", zap.String("path", b.path), zap.Error(err))
		}
		b.nextOpen.Store(int64(b.monoNow()) + int64(boltOpenRetry))
		return nil, err
	}
	b.logger.Info("opened token store", zap.String("path", b.path))
	b.mem = mem
	b.db.Store(db)
	return db, nil
}

// closedError is what an operation gets once the store was closed
// (destroy): a request that outlived its config.
func (b *boltBackend) closedError() error {
	return fmt.Errorf("%w: token store %s is closed", ErrUnavailable, b.path)
}

// openDue reports whether the next try to open the file is due.
func (b *boltBackend) openDue() bool { return int64(b.monoNow()) >= b.nextOpen.Load() }

// boltOptions are the store file's options. The list of free pages is not
// written on every commit (it is rebuilt from the file when it opens, as
// etcd does): when many records expire at once, the sweep's deletions
// free thousands of pages, and writing that list again with each of the
// sweep's transactions grew every commit, logins' included, with it. The
// map form of the list finds a run of free pages without a scan.
func boltOptions(timeout time.Duration) *bolt.Options {
	return &bolt.Options{Timeout: timeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
}

// openBoltFile opens (creating if needed) the store file at path,
// prepares its buckets and reads what the request path keeps in memory.
func openBoltFile(path string, timeout time.Duration) (*bolt.DB, *boltMemory, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("opening token store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, boltOptions(timeout))
	if err != nil {
		return nil, nil, fmt.Errorf("opening token store %s: %w", path, err)
	}
	mem := newBoltMemory()
	if err := db.Update(initBuckets); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("opening token store %s: %w", path, err)
	}
	if err := db.View(mem.load); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("opening token store %s: %w", path, err)
	}
	return db, mem, nil
}

// ready returns the open file for an operation, unless ctx is done.
func (b *boltBackend) ready(ctx context.Context) (*bolt.DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.database()
}

// update runs fn in a read-write transaction, unless ctx is done. Every
// write to the revoked, failures and sessions buckets goes through w, which
// keeps what the request path reads from memory exact (boltMemory).
func (b *boltBackend) update(ctx context.Context, fn func(tx *bolt.Tx, w *boltWrites) error) error {
	db, err := b.ready(ctx)
	if err != nil {
		return err
	}
	if begun := b.onWriteBegun; begun != nil {
		inner := fn
		fn = func(tx *bolt.Tx, w *boltWrites) error {
			begun()
			return inner(tx, w)
		}
	}
	return b.updateDB(db, fn)
}

// updateDB is update on the open file.
func (b *boltBackend) updateDB(db *bolt.DB, fn func(tx *bolt.Tx, w *boltWrites) error) error {
	w := &boltWrites{m: b.mem}
	err := db.Update(func(tx *bolt.Tx) error { return fn(tx, w) })
	w.done(err == nil)
	return err
}

// view runs fn in a read-only transaction, unless ctx is done.
func (b *boltBackend) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	db, err := b.ready(ctx)
	if err != nil {
		return err
	}
	return db.View(fn)
}

// initBuckets creates the buckets and checks the layout version.
func initBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keySchema); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("reading layout version %q: %w", v, err)
		}
		if n > boltSchema {
			return fmt.Errorf("file has layout version %d, this build reads up to %d", n, boltSchema)
		}
		return nil
	}
	return meta.Put(keySchema, []byte(strconv.Itoa(boltSchema)))
}

// destroy stops the sweeper and closes the file if it was opened.
func (b *boltBackend) destroy() error {
	b.sweeper.halt()
	b.openMu.Lock()
	defer b.openMu.Unlock()
	b.closed.Store(true) // for good: a late operation must not open the file again
	db := b.db.Swap(nil)
	if db == nil {
		return nil
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("closing token store %s: %w", b.path, err)
	}
	return nil
}

// Time values are stored as big-endian Unix nanoseconds, clamped to the
// range that fits: an expiry past 2262 is, for this store, never.
var maxStoredTime = time.Unix(0, math.MaxInt64)

func encodeTime(dst []byte, t time.Time) []byte {
	if t.After(maxStoredTime) {
		t = maxStoredTime
	}
	return binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano()))
}

// decodeTime reads a stored time; ok is false when v is malformed.
func decodeTime(v []byte) (t time.Time, ok bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// A counter is stored as 8 bytes of count then 8 bytes of expiry.
func encodeCounter(c Counter) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(c.Count))
	return encodeTime(v, c.Expires)
}

func decodeCounter(v []byte) (Counter, bool) {
	if len(v) != 16 {
		return Counter{}, false
	}
	expires, _ := decodeTime(v[8:])
	return Counter{Count: int(binary.BigEndian.Uint64(v[:8])), Expires: expires}, true
}

// ownerPrefix is the owner index prefix for owner: its length as a uvarint,
// then the owner, so that no owner's prefix is a prefix of another's.
func ownerPrefix(owner string) []byte {
	p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(owner)), uint64(len(owner)))
	return append(p, owner...)
}

func ownerKey(owner, id string) []byte {
	return append(ownerPrefix(owner), id...)
}

// getToken reads the token stored under id in tx; ErrNotFound when absent.
func getToken(tx *bolt.Tx, id []byte) (Token, error) {
	v := tx.Bucket(bucketTokens).Get(id)
	if v == nil {
		return Token{}, ErrNotFound
	}
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return Token{}, fmt.Errorf("decoding token %s: %w", id, err)
	}
	return t, nil
}

func putToken(tx *bolt.Tx, t Token) error {
	v, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encoding token %s: %w", t.ID, err)
	}
	if err := tx.Bucket(bucketTokens).Put([]byte(t.ID), v); err != nil {
		return fmt.Errorf("writing token %s: %w", t.ID, err)
	}
	return nil
}

// deleteTokenTx removes t and its index entries.
func deleteTokenTx(tx *bolt.Tx, w *boltWrites, t Token) error {
	id := []byte(t.ID)
	if err := tx.Bucket(bucketTokens).Delete(id); err != nil {
		return fmt.Errorf("deleting token %s: %w", t.ID, err)
	}
	if bytes.Equal(tx.Bucket(bucketTokenHashes).Get(t.KeyHash), id) {
		if err := w.delete(tx, bucketTokenHashes, t.KeyHash); err != nil {
			return fmt.Errorf("deleting token %s key hash: %w", t.ID, err)
		}
	}
	if err := tx.Bucket(bucketTokenOwners).Delete(ownerKey(t.Owner, t.ID)); err != nil {
		return fmt.Errorf("deleting token %s owner index: %w", t.ID, err)
	}
	return nil
}

// CreateToken implements Store.
func (b *boltBackend) CreateToken(ctx context.Context, t Token) error {
	if err := checkToken(t); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	return b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		now := b.now()
		old, err := getToken(tx, []byte(t.ID))
		switch {
		case err == nil && !old.Expired(now):
			return fmt.Errorf("creating token %s: %w", t.ID, ErrExists)
		case err == nil:
			if err := deleteTokenTx(tx, w, old); err != nil {
				return err
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if id := tx.Bucket(bucketTokenHashes).Get(t.KeyHash); id != nil {
			old, err := getToken(tx, id)
			switch {
			case err == nil && !old.Expired(now):
				return fmt.Errorf("creating token %s: key hash: %w", t.ID, ErrExists)
			case err == nil:
				if err := deleteTokenTx(tx, w, old); err != nil {
					return err
				}
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		return insertToken(tx, w, t)
	})
}

// insertToken writes t and its index entries; the caller has made sure
// that neither its id nor its key hash is taken.
func insertToken(tx *bolt.Tx, w *boltWrites, t Token) error {
	if err := putToken(tx, t); err != nil {
		return err
	}
	if err := w.put(tx, bucketTokenHashes, t.KeyHash, []byte(t.ID)); err != nil {
		return fmt.Errorf("writing token %s key hash: %w", t.ID, err)
	}
	if err := tx.Bucket(bucketTokenOwners).Put(ownerKey(t.Owner, t.ID), nil); err != nil {
		return fmt.Errorf("writing token %s owner index: %w", t.ID, err)
	}
	return nil
}

// Token implements Store.
func (b *boltBackend) Token(ctx context.Context, id string) (Token, error) {
	var t Token
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		t, err = getToken(tx, []byte(id))
		return err
	})
	if err != nil {
		return Token{}, err
	}
	if t.Expired(b.now()) {
		return Token{}, ErrNotFound
	}
	return t, nil
}

// TokenByKeyHash implements Store.
func (b *boltBackend) TokenByKeyHash(ctx context.Context, keyHash []byte) (Token, error) {
	if len(keyHash) == 0 {
		return Token{}, ErrNotFound
	}
	if _, err := b.ready(ctx); err != nil {
		return Token{}, err
	}
	if !b.mem.keyHashes.mayContainBytes(keyHash) {
		return Token{}, ErrNotFound
	}
	var t Token
	err := b.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTokenHashes).Get(keyHash)
		if id == nil {
			return ErrNotFound
		}
		var err error
		t, err = getToken(tx, id)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	if t.Expired(b.now()) {
		return Token{}, ErrNotFound
	}
	return t, nil
}

// Tokens implements Store.
func (b *boltBackend) Tokens(ctx context.Context, owner string) ([]Token, error) {
	now := b.now()
	var out []Token
	add := func(t Token) {
		if !t.Expired(now) {
			out = append(out, t)
		}
	}
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if owner == "" {
			return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
				var t Token
				if err := json.Unmarshal(v, &t); err != nil {
					return fmt.Errorf("decoding token %s: %w", k, err)
				}
				add(t)
				return nil
			})
		}
		prefix := ownerPrefix(owner)
		c := tx.Bucket(bucketTokenOwners).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			t, err := getToken(tx, k[len(prefix):])
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.Owner == owner {
				add(t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	slices.SortFunc(out, compareTokens)
	return out, nil
}

// DeleteToken implements Store.
func (b *boltBackend) DeleteToken(ctx context.Context, id string) error {
	return b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		t, err := getToken(tx, []byte(id))
		if err != nil {
			return err
		}
		if err := deleteTokenTx(tx, w, t); err != nil {
			return err
		}
		if t.Expired(b.now()) {
			return ErrNotFound
		}
		return nil
	})
}

// TouchTokens implements Store.
func (b *boltBackend) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		now := b.now()
		for id, used := range lastUsed {
			t, err := getToken(tx, []byte(id))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.Expired(now) || (t.LastUsed != nil && !used.After(*t.LastUsed)) {
				continue
			}
			t.LastUsed = &used
			if err := putToken(tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// Revoke implements Store: the check and the write happen in one
// transaction.
func (b *boltBackend) Revoke(ctx context.Context, jti string, until time.Time) (bool, error) {
	if err := checkKey("jti", jti); err != nil {
		return false, fmt.Errorf("revoking: %w", err)
	}
	now := b.now()
	if !now.Before(until) {
		return false, nil // already expired: nothing left to revoke
	}
	var revoked bool
	err := b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		old, ok := decodeTime(tx.Bucket(bucketRevoked).Get([]byte(jti)))
		revoked = !ok || !now.Before(old) // no live record was there
		if ok && !until.After(old) {
			return nil
		}
		if err := w.put(tx, bucketRevoked, []byte(jti), encodeTime(make([]byte, 0, 8), until)); err != nil {
			return fmt.Errorf("revoking %s: %w", jti, err)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return revoked, nil
}

// IsRevoked implements Store.
func (b *boltBackend) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if jti == "" {
		return false, nil
	}
	if _, err := b.ready(ctx); err != nil {
		return false, fmt.Errorf("reading revocation %s: %w", jti, err)
	}
	if b.NotRevoked(jti) {
		return false, nil
	}
	var until time.Time
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRevoked).Get([]byte(jti))
		if v == nil {
			return nil
		}
		var ok bool
		if until, ok = decodeTime(v); !ok {
			return errors.New("malformed record")
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reading revocation %s: %w", jti, err)
	}
	return b.now().Before(until), nil
}

// getSession reads the live session under idHash in tx.
func getSession(tx *bolt.Tx, idHash []byte, now time.Time) (Session, error) {
	v := tx.Bucket(bucketSessions).Get(idHash)
	if v == nil {
		return Session{}, ErrNotFound
	}
	s, err := decodeSession(idHash, v)
	if err != nil {
		// A record this version cannot read (e.g. from an older build) is
		// a session that ended: the sweep removes it.
		return Session{}, ErrNotFound
	}
	if sessionExpired(s, now) {
		return Session{}, ErrNotFound
	}
	return s, nil
}

func putSession(tx *bolt.Tx, w *boltWrites, s Session) error {
	if err := w.put(tx, bucketSessions, s.IDHash, encodeSession(s)); err != nil {
		return fmt.Errorf("writing session: %w", err)
	}
	return nil
}

// CreateSession implements Store.
func (b *boltBackend) CreateSession(ctx context.Context, s Session) error {
	if err := checkSession(s); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		_, err := getSession(tx, s.IDHash, b.now())
		switch {
		case err == nil:
			return fmt.Errorf("creating session: %w", ErrExists)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		return putSession(tx, w, s)
	})
}

// Session implements Store.
func (b *boltBackend) Session(ctx context.Context, idHash []byte) (*Session, error) {
	if len(idHash) == 0 {
		return nil, ErrNotFound
	}
	if _, err := b.ready(ctx); err != nil {
		return nil, err
	}
	// A cached session is a present one (a write drops it from the cache
	// before it leaves the key set): the key set is asked only on a miss.
	if s := b.mem.records.get(idHash); s != nil {
		if sessionExpired(*s, b.now()) {
			return nil, ErrNotFound
		}
		return s, nil
	}
	if !b.mem.sessions.mayContainBytes(idHash) {
		return nil, ErrNotFound
	}
	return b.readSession(ctx, idHash)
}

// readSession is Session from the file. A function of its own, so that
// the frame of a cached session's read stays small: a deep stack makes a
// server's goroutines grow theirs again after every GC shrank them.
func (b *boltBackend) readSession(ctx context.Context, idHash []byte) (*Session, error) {
	gen := b.mem.records.generation()
	var s Session
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		s, err = getSession(tx, idHash, b.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return b.mem.records.putUnchanged(gen, s), nil
}

// UpdateSession implements Store.
func (b *boltBackend) UpdateSession(ctx context.Context, s Session) error {
	if len(s.IDHash) == 0 {
		return ErrNotFound
	}
	return b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		if _, err := getSession(tx, s.IDHash, b.now()); err != nil {
			return err
		}
		return putSession(tx, w, s)
	})
}

// DeleteSession implements Store.
func (b *boltBackend) DeleteSession(ctx context.Context, idHash []byte) error {
	if len(idHash) == 0 {
		return nil
	}
	return b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		if err := w.delete(tx, bucketSessions, idHash); err != nil {
			return fmt.Errorf("deleting session: %w", err)
		}
		return nil
	})
}

// AddFailure implements Store.
func (b *boltBackend) AddFailure(ctx context.Context, key string, window time.Duration) (Counter, error) {
	if err := checkKey("failure key", key); err != nil {
		return Counter{}, fmt.Errorf("adding failure: %w", err)
	}
	if err := checkWindow(window); err != nil {
		return Counter{}, fmt.Errorf("adding failure: %w", err)
	}
	var c Counter
	err := b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		now := b.now()
		old, ok := decodeCounter(tx.Bucket(bucketFailures).Get([]byte(key)))
		if ok && !counterExpired(old, now) {
			c = Counter{Count: old.Count + 1, Expires: old.Expires}
		} else {
			c = Counter{Count: 1, Expires: now.Add(window)}
		}
		return w.put(tx, bucketFailures, []byte(key), encodeCounter(c))
	})
	if err != nil {
		return Counter{}, fmt.Errorf("adding failure: %w", err)
	}
	return c, nil
}

// Failures implements Store.
func (b *boltBackend) Failures(ctx context.Context, key string) (Counter, error) {
	if key == "" {
		return Counter{}, nil
	}
	if _, err := b.ready(ctx); err != nil {
		return Counter{}, fmt.Errorf("reading failures: %w", err)
	}
	if !b.mem.failures.mayContain(key) {
		return Counter{}, nil
	}
	var c Counter
	err := b.view(ctx, func(tx *bolt.Tx) error {
		c, _ = decodeCounter(tx.Bucket(bucketFailures).Get([]byte(key)))
		return nil
	})
	if err != nil {
		return Counter{}, fmt.Errorf("reading failures: %w", err)
	}
	if counterExpired(c, b.now()) {
		return Counter{}, nil
	}
	return c, nil
}

// NotRevoked implements RevocationFree: the file is open and its set of
// revoked ids does not hold jti (IsRevoked's first test).
func (b *boltBackend) NotRevoked(jti string) bool {
	return jti == "" || b.db.Load() != nil && !b.mem.revoked.mayContain(jti)
}

// NoFailures implements FailureFree: the open file's set of keys with
// failure counters holds none of keys.
func (b *boltBackend) NoFailures(keys [3]string) bool {
	return b.db.Load() != nil && !b.mem.failures.mayContainAny(keys)
}

// CheckFailures implements CheckCounters: one check of the key set for the
// three counters, and one read transaction when any of them exists.
func (b *boltBackend) CheckFailures(ctx context.Context, keys [3]string) ([3]Counter, error) {
	var out [3]Counter
	if _, err := b.ready(ctx); err != nil {
		return out, fmt.Errorf("reading failures: %w", err)
	}
	if b.NoFailures(keys) {
		return out, nil
	}
	now := b.now()
	err := b.view(ctx, func(tx *bolt.Tx) error {
		bucket := tx.Bucket(bucketFailures)
		for i, k := range keys {
			if k == "" {
				continue
			}
			if c, _ := decodeCounter(bucket.Get([]byte(k))); !counterExpired(c, now) {
				out[i] = c
			}
		}
		return nil
	})
	if err != nil {
		return [3]Counter{}, fmt.Errorf("reading failures: %w", err)
	}
	return out, nil
}

// SetFailures implements Store. A counter with no count or an expiry that
// is not in the future is deleted instead.
func (b *boltBackend) SetFailures(ctx context.Context, key string, c Counter) error {
	if err := checkKey("failure key", key); err != nil {
		return fmt.Errorf("setting failures: %w", err)
	}
	err := b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		if c.Count <= 0 || counterExpired(c, b.now()) {
			return w.delete(tx, bucketFailures, []byte(key))
		}
		return w.put(tx, bucketFailures, []byte(key), encodeCounter(c))
	})
	if err != nil {
		return fmt.Errorf("setting failures: %w", err)
	}
	return nil
}

// ResetFailures implements Store.
func (b *boltBackend) ResetFailures(ctx context.Context, key string) error {
	if key == "" {
		return nil
	}
	err := b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		return w.delete(tx, bucketFailures, []byte(key))
	})
	if err != nil {
		return fmt.Errorf("resetting failures: %w", err)
	}
	return nil
}

// Secret implements Store. The check and the write share one write
// transaction, which bbolt serialises, so generate runs at most once.
func (b *boltBackend) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	if err := checkKey("secret name", name); err != nil {
		return nil, fmt.Errorf("loading secret: %w", err)
	}
	var s []byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		s = bytes.Clone(tx.Bucket(bucketSecrets).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading secret %s: %w", name, err)
	}
	if s != nil {
		return s, nil
	}
	err = b.update(ctx, func(tx *bolt.Tx, w *boltWrites) error {
		bk := tx.Bucket(bucketSecrets)
		if v := bk.Get([]byte(name)); v != nil {
			s = bytes.Clone(v)
			return nil
		}
		gen, err := generateSecret(name, generate)
		if err != nil {
			return err
		}
		if err := bk.Put([]byte(name), gen); err != nil {
			return fmt.Errorf("storing secret %s: %w", name, err)
		}
		s = bytes.Clone(gen)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
