package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// Every record kind is generated sweepTestRecords times; one in ten is
// still live when the sweep runs, the others have expired.
const sweepTestRecords = 1000

func sweepTestLive(i int) bool { return i%10 == 9 }

// sweepTestExpiry is when the i-th record expires: an hour apart, either
// side of base+1h, when the tests sweep.
func sweepTestExpiry(base time.Time) func(i int) time.Time {
	return func(i int) time.Time {
		if sweepTestLive(i) {
			return base.Add(2 * time.Hour)
		}
		return base.Add(time.Minute)
	}
}

var sweepTestKinds = []recordKind{kindToken, kindSession, kindRevocation, kindFailure}

// concurrentWrite starts a session write in another goroutine and reports
// whether it completed within a deadline far longer than any write takes
// (it never completes while a transaction of the sweep holds the lock).
func concurrentWrite(t *testing.T, create func(Session) error, base time.Time) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- create(fixtureSession(-1, base, base.Add(2*time.Hour))) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a write during the sweep: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write during the sweep did not complete: the sweep holds the lock between batches")
	}
}

// sweepTestBolt opens a bolt store, closed when the test ends, holding
// sweepTestRecords records of each kind, expiring by sweepTestExpiry(base).
func sweepTestBolt(t *testing.T, kinds ...recordKind) (*boltBackend, *bolt.DB, time.Time) {
	t.Helper()
	b, err := openBolt(filepath.Join(t.TempDir(), "sweep.db"), time.Second, time.Hour, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.destroy() })
	db, err := b.database()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	for _, kind := range kinds {
		if err := loadBolt(b, kind, sweepTestRecords, base, sweepTestExpiry(base)); err != nil {
			t.Fatal(err)
		}
	}
	return b, db, base
}

// TestBoltSweepBatches: a sweep over many expired records deletes them all
// in many write transactions, none deleting more than the batch limit
// (counted from what the file holds between two of them), keeps the live
// records, and lets a write through while it runs.
func TestBoltSweepBatches(t *testing.T) {
	const batch = 100
	b, db, base := sweepTestBolt(t, sweepTestKinds...)
	b.sweepLimits = sweepLimits{batchRecords: batch, batchTime: time.Hour, scanRecords: 700}

	// records counts the records (not their index entries); txID is the
	// id of the last committed write transaction.
	records := func() int {
		n := 0
		for _, name := range []string{"tokens", "sessions", "revoked", "failures"} {
			n += bucketSizes(t, db)[name]
		}
		return n
	}
	txID := func() int {
		var id int
		if err := db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	prev, prevTx := records(), txID()
	batches, wrote := 0, false
	b.onSweepBatch = func(sb sweepBatch) {
		batches++
		n, id := records(), txID()
		if id != prevTx+1 {
			t.Errorf("batch %d: %d write transactions since the previous one, want 1", batches, id-prevTx)
		}
		if deleted := prev - n; deleted > batch || deleted != sb.records {
			t.Errorf("batch %d deleted %d records (reported %d); at most %d per transaction", batches, deleted, sb.records, batch)
		}
		prev, prevTx = n, id
		if !wrote {
			wrote = true
			concurrentWrite(t, func(s Session) error { return b.CreateSession(t.Context(), s) }, base)
			prev, prevTx = records(), txID()
		}
	}
	if err := b.sweep(base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	expired := len(sweepTestKinds) * sweepTestRecords * 9 / 10
	if min := expired / batch; batches < min {
		t.Errorf("%d write transactions deleted %d records; want at least %d", batches, expired, min)
	}
	live := sweepTestRecords / 10
	want := map[string]int{"tokens": live, "token_key_hashes": live, "token_owners": live,
		"revoked": live, "sessions": live + 1, "failures": live}
	for name, n := range bucketSizes(t, db) {
		if n != want[name] {
			t.Errorf("bucket %s holds %d keys after the sweep, want %d", name, n, want[name])
		}
	}
	// What the store keeps in memory of the records went with them.
	for name, n := range map[string]int{"revoked": b.mem.revoked.len(), "sessions": b.mem.sessions.len(),
		"failures": b.mem.failures.len(), "token_key_hashes": b.mem.keyHashes.len()} {
		if n != want[name] {
			t.Errorf("%d %s known in memory after the sweep, want %d", n, name, want[name])
		}
	}
	ctx := t.Context()
	for i := range sweepTestRecords {
		if !sweepTestLive(i) {
			continue
		}
		tok := fixtureToken(i, base, base)
		if _, err := b.TokenByKeyHash(ctx, tok.KeyHash); err != nil {
			t.Fatalf("live token %d after the sweep: %v", i, err)
		}
		if _, err := b.Session(ctx, fixtureSession(i, base, base).IDHash); err != nil {
			t.Fatalf("live session %d after the sweep: %v", i, err)
		}
		if ok, err := b.IsRevoked(ctx, fixtureJTI(i)); !ok || err != nil {
			t.Fatalf("live revocation %d after the sweep: %v, %v", i, ok, err)
		}
	}
	if _, err := b.Session(ctx, fixtureSession(-1, base, base).IDHash); err != nil {
		t.Errorf("the session written during the sweep: %v", err)
	}
}

// TestMemorySweepPauses: the memory sweep lets go of the lock after every
// chunk of records it examines, so a write gets through while it runs, and
// still deletes every expired record and no live one.
func TestMemorySweepPauses(t *testing.T) {
	const chunk = 100
	m := newMemoryBackend(time.Hour)
	defer func() { _ = m.destroy() }()
	ctx := t.Context()
	base := time.Now()
	m.now = func() time.Time { return base }
	expiry := sweepTestExpiry(base)
	for i := range sweepTestRecords {
		exp := expiry(i)
		_, revokeErr := m.Revoke(ctx, fixtureJTI(i), exp)
		for _, err := range []error{
			m.CreateToken(ctx, fixtureToken(i, base, exp)),
			m.CreateSession(ctx, fixtureSession(i, base, exp)),
			revokeErr,
			m.SetFailures(ctx, fixtureFailureKey(i), Counter{Count: 3, Expires: exp}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	m.sweepChunk = chunk

	records := func() int {
		m.mu.RLock()
		defer m.mu.RUnlock()
		return len(m.tokens) + len(m.revoked) + len(m.sessions) + len(m.counters)
	}
	prev, pauses, wrote := records(), 0, false
	m.onSweepPause = func() {
		pauses++
		n := records()
		if prev-n > chunk {
			t.Errorf("pause %d: %d records deleted while the lock was held, want at most %d", pauses, prev-n, chunk)
		}
		prev = n
		if !wrote {
			wrote = true
			concurrentWrite(t, func(s Session) error { return m.CreateSession(ctx, s) }, base)
			prev = records()
		}
	}
	m.sweep(base.Add(time.Hour))
	if n := records(); prev-n > chunk {
		t.Errorf("after the last pause %d records were deleted, want at most %d", prev-n, chunk)
	}

	if min := len(sweepTestKinds)*sweepTestRecords/chunk - 1; pauses < min {
		t.Errorf("the sweep paused %d times, want at least %d", pauses, min)
	}
	live := sweepTestRecords / 10
	m.mu.RLock()
	got := []int{len(m.tokens), len(m.byHash), len(m.revoked), len(m.sessions), len(m.counters)}
	m.mu.RUnlock()
	want := []int{live, live, live, live + 1, live}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tokens, key hashes, revocations, sessions, counters after the sweep: %v, want %v", got, want)
		}
	}
	for i := range sweepTestRecords {
		if sweepTestLive(i) {
			if _, err := m.TokenByKeyHash(ctx, fixtureToken(i, base, base).KeyHash); err != nil {
				t.Fatalf("live token %d after the sweep: %v", i, err)
			}
		}
	}
}

// TestNextBatchSize: a batch that held the writer lock too long makes the
// next one smaller in proportion (not below the minimum), a quick one makes
// it larger again (not above the limit).
func TestNextBatchSize(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name        string
		current, n  int
		hold        time.Duration
		limit, want int
	}{
		{"on target", 1000, 1000, 3 * ms, 1000, 1000},
		{"four times too long", 1000, 1000, 16 * ms, 1000, 250},
		{"far too long", 100, 100, 500 * ms, 1000, sweepMinBatch},
		{"quick: doubles", 100, 100, ms, 1000, 200},
		{"quick at the limit", 800, 800, ms, 1000, 1000},
		{"stopped by time: no bigger than now", 100, 40, 8 * ms, 1000, 20},
	} {
		if got := nextBatchSize(tc.current, tc.n, tc.hold, tc.limit); got != tc.want {
			t.Errorf("%s: nextBatchSize(%d, %d, %v, %d) = %d, want %d", tc.name, tc.current, tc.n, tc.hold, tc.limit, got, tc.want)
		}
	}
}

// TestBoltSweepStopsWhenClosing: a sweep ends after the batch it is in
// when the store closes (halt closes stop), instead of holding up Caddy's
// shutdown or reload until every expired record is gone; the next sweep
// deletes the rest.
func TestBoltSweepStopsWhenClosing(t *testing.T) {
	b, db, base := sweepTestBolt(t, kindSession)
	b.sweepLimits = sweepLimits{batchRecords: 100, batchTime: time.Hour}
	stop := make(chan struct{})
	batches := 0
	b.onSweepBatch = func(sweepBatch) {
		if batches++; batches == 1 {
			close(stop)
		}
	}
	if err := b.sweepUntil(stop, base.Add(time.Hour)); !errors.Is(err, errSweepHalted) {
		t.Fatalf("sweep with stop closed: %v, want errSweepHalted", err)
	}
	live := sweepTestRecords / 10
	if n := bucketSizes(t, db)["sessions"]; batches != 1 || n != sweepTestRecords-100 {
		t.Fatalf("after a halted sweep: %d batches, %d sessions; want 1 batch, %d sessions", batches, n, sweepTestRecords-100)
	}
	if err := b.sweep(base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := bucketSizes(t, db)["sessions"]; n != live {
		t.Fatalf("after the next sweep: %d sessions, want %d", n, live)
	}
}
