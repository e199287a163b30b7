package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// The bolt sweep deletes expired records in batches, each in a write
// transaction of its own. bbolt has one writer at a time, and every login
// writes (a session, a token, a revocation, a failure counter), so no
// batch may keep a login waiting long: a batch ends after
// sweepBatchRecords records or sweepBatchTime of deleting, whichever comes
// first, and commits. The commit writes the pages the deletions touched
// and syncs the file. Records are deleted in key order, so the records of
// one batch share a few pages; a token's two index entries, though, lie
// on random pages, so a batch of tokens (some 50 in 1 ms) takes a few
// times its deleting time to commit (see the cost curve in
// BENCHMARKS.md). Expired records are found beforehand in read
// transactions of at most sweepScanRecords records, so that no read
// transaction stays open long either (a long one would hold up a write
// that grows the file).
//
// The commit is what varies (a batch of tokens dirties a page per index
// entry), so the batch size also follows the time the last transaction
// held the lock: above sweepHoldTarget the next batch is made smaller in
// proportion (down to sweepMinBatch records), below half of it larger
// again (up to sweepBatchRecords).
//
// Between two batches the sweep leaves the writer lock free for as long as
// the last batch held it (at most sweepMaxPause). A Go mutex lets the
// goroutine that just unlocked it take it again ahead of one that waits, so
// without the pause a login could wait behind several batches in a row;
// with it, a login waits at most for the rest of one batch. A sweep of a
// million expired records takes about twice as long; it stops between
// batches when the store closes.
const (
	sweepBatchRecords = 1000
	sweepBatchTime    = time.Millisecond
	sweepScanRecords  = 10_000
	sweepHoldTarget   = 4 * time.Millisecond
	sweepMinBatch     = 8
	sweepMaxPause     = 2 * sweepHoldTarget
)

// errSweepHalted ends a sweep whose store is closing.
var errSweepHalted = errors.New("sweep halted: the store is closing")

// sweepLimits bounds the transactions of one sweep; a zero field means
// its default above. Tests lower them.
type sweepLimits struct {
	batchRecords int
	batchTime    time.Duration
	scanRecords  int
	// noPause leaves out the pauses between batches.
	noPause bool
}

func (l sweepLimits) withDefaults() sweepLimits {
	if l.batchRecords <= 0 {
		l.batchRecords = sweepBatchRecords
	}
	if l.batchTime <= 0 {
		l.batchTime = sweepBatchTime
	}
	if l.scanRecords <= 0 {
		l.scanRecords = sweepScanRecords
	}
	return l
}

// sweepBatch is one write transaction of a sweep.
type sweepBatch struct {
	bucket string
	// records is how many records it deleted (a token with its index
	// entries counts once).
	records int
	// hold is the time from the start of the transaction, once it had
	// bbolt's writer lock, to the end of its commit; deleting is the part
	// of it before the commit (which writes the pages and syncs the file,
	// as every write transaction does).
	hold, deleting time.Duration
}

// sweepTarget is a bucket of expiring records.
type sweepTarget struct {
	bucket []byte
	// expired reports whether the stored value v is expired at now.
	expired func(v []byte, now time.Time) bool
	// remove, when set, deletes a record together with its index entries
	// if it is still expired at now, and reports whether it did.
	remove func(tx *bolt.Tx, w *boltWrites, v []byte, now time.Time) (bool, error)
}

var boltSweepTargets = []sweepTarget{
	{bucket: bucketRevoked, expired: func(v []byte, now time.Time) bool {
		until, ok := decodeTime(v)
		return ok && !now.Before(until)
	}},
	{bucket: bucketSessions, expired: func(v []byte, now time.Time) bool {
		s, err := decodeSession(nil, v)
		return err != nil || sessionExpired(s, now)
	}},
	{bucket: bucketFailures, expired: func(v []byte, now time.Time) bool {
		c, ok := decodeCounter(v)
		return ok && counterExpired(c, now)
	}},
	{bucket: bucketTokens, expired: tokenExpired, remove: removeExpiredToken},
}

func tokenExpired(v []byte, now time.Time) bool {
	var t Token
	return json.Unmarshal(v, &t) == nil && t.Expired(now)
}

// removeExpiredToken deletes the token stored as v, and its index entries,
// if it is expired at now.
func removeExpiredToken(tx *bolt.Tx, w *boltWrites, v []byte, now time.Time) (bool, error) {
	var t Token
	if json.Unmarshal(v, &t) != nil || !t.Expired(now) {
		return false, nil
	}
	return true, deleteTokenTx(tx, w, t)
}

// removeExpired deletes the record k (value v) if it is still expired at
// now: it may have been renewed since the scan found it.
func (t sweepTarget) removeExpired(tx *bolt.Tx, w *boltWrites, k, v []byte, now time.Time) (bool, error) {
	if t.remove != nil {
		return t.remove(tx, w, v, now)
	}
	if !t.expired(v, now) {
		return false, nil
	}
	if err := w.delete(tx, t.bucket, k); err != nil {
		return false, fmt.Errorf("deleting from %s: %w", t.bucket, err)
	}
	return true, nil
}

// sweep deletes every record expired at now, batch by batch.
func (b *boltBackend) sweep(now time.Time) error { return b.sweepUntil(nil, now) }

// sweepUntil is sweep, returning errSweepHalted between two batches once
// stop is closed.
func (b *boltBackend) sweepUntil(stop <-chan struct{}, now time.Time) error {
	db := b.db.Load()
	limits := b.sweepLimits.withDefaults()
	var records, batches int
	var longest time.Duration
	for _, target := range boltSweepTargets {
		err := b.sweepBucket(db, target, now, limits, stop, func(batch sweepBatch) {
			records += batch.records
			batches++
			longest = max(longest, batch.hold)
			if b.onSweepBatch != nil {
				b.onSweepBatch(batch)
			}
		})
		if err != nil {
			return err
		}
	}
	if records > 0 {
		b.logger.Debug("deleted expired records", zap.String("path", b.path), zap.Int("records", records),
			zap.Int("transactions", batches), zap.Duration("longest_transaction", longest))
	}
	return nil
}

// sweepBucket deletes the records of one bucket expired at now, reporting
// every write transaction to done.
func (b *boltBackend) sweepBucket(db *bolt.DB, target sweepTarget, now time.Time, limits sweepLimits, stop <-chan struct{}, done func(sweepBatch)) error {
	var from []byte
	size := limits // batchRecords follows the lock hold (see above)
	for {
		expired, next, err := scanExpired(db, target, from, now, limits.scanRecords)
		if err != nil {
			return err
		}
		for len(expired) > 0 {
			batch, n, err := b.deleteBatch(db, target, expired, now, size)
			if err != nil {
				return err
			}
			done(batch)
			expired = expired[n:]
			size.batchRecords = nextBatchSize(size.batchRecords, n, batch.hold, limits.batchRecords)
			if err := pauseAfter(batch, limits, stop); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}

// pauseAfter leaves the writer lock free after batch (see above), and
// returns errSweepHalted when stop is closed.
func pauseAfter(batch sweepBatch, limits sweepLimits, stop <-chan struct{}) error {
	pause := min(batch.hold, sweepMaxPause)
	if limits.noPause || pause <= 0 {
		select {
		case <-stop:
			return errSweepHalted
		default:
			return nil
		}
	}
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-stop:
		return errSweepHalted
	case <-t.C:
		return nil
	}
}

// nextBatchSize is the record limit of the batch after one that went
// through n records and held the writer lock for hold, with at most limit.
func nextBatchSize(current, n int, hold time.Duration, limit int) int {
	switch {
	case hold > sweepHoldTarget && n > 0:
		return min(current, max(sweepMinBatch, int(float64(n)*float64(sweepHoldTarget)/float64(hold))))
	case hold < sweepHoldTarget/2:
		return min(limit, current*2)
	}
	return current
}

// scanExpired examines at most limit records of the target's bucket,
// starting at the key from (the first when nil), in one read transaction.
// It returns the keys of the expired ones and the key to continue from,
// nil at the end of the bucket.
func scanExpired(db *bolt.DB, target sweepTarget, from []byte, now time.Time, limit int) (expired [][]byte, next []byte, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(target.bucket).Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for n := 0; k != nil; k, v = c.Next() {
			if n == limit {
				next = bytes.Clone(k)
				return nil
			}
			n++
			if target.expired(v, now) {
				expired = append(expired, bytes.Clone(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("finding expired records in %s: %w", target.bucket, err)
	}
	return expired, next, nil
}

// deleteBatch deletes, in one write transaction, the records of keys that
// are still expired, up to the batch limits. It returns how many keys it
// went through; the caller passes the rest to the next batch.
func (b *boltBackend) deleteBatch(db *bolt.DB, target sweepTarget, keys [][]byte, now time.Time, limits sweepLimits) (sweepBatch, int, error) {
	batch := sweepBatch{bucket: string(target.bucket)}
	var began time.Time
	n := 0
	err := b.updateDB(db, func(tx *bolt.Tx, w *boltWrites) error {
		began = time.Now()
		bk := tx.Bucket(target.bucket)
		for ; n < len(keys) && n < limits.batchRecords; n++ {
			if n > 0 && time.Since(began) >= limits.batchTime {
				break
			}
			v := bk.Get(keys[n])
			if v == nil {
				continue // deleted meanwhile
			}
			removed, err := target.removeExpired(tx, w, keys[n], v, now)
			if err != nil {
				return err
			}
			if removed {
				batch.records++
			}
		}
		batch.deleting = time.Since(began)
		return nil
	})
	if err != nil {
		return sweepBatch{}, 0, fmt.Errorf("deleting expired records from %s: %w", target.bucket, err)
	}
	batch.hold = time.Since(began)
	return batch, n, nil
}
