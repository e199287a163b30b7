package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// recordKind names a kind of expiring record the tests generate in bulk.
type recordKind string

const (
	kindToken      recordKind = "token"
	kindSession    recordKind = "session"
	kindRevocation recordKind = "revocation"
	kindFailure    recordKind = "failure"
)

// fixtureBytes returns 32 bytes that depend only on the kind, the index and
// what they are for: the same record every time, without keeping a list.
func fixtureBytes(kind recordKind, i int, what string) [sha256.Size]byte {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	return sha256.Sum256(append([]byte(string(kind)+"/"+what+"/"), seed[:]...))
}

// fixtureToken is the i-th generated API token, shaped as the token
// endpoint writes one: a 12-character id, a 32-byte key hash.
func fixtureToken(i int, created, expires time.Time) Token {
	idBytes := fixtureBytes(kindToken, i, "id")
	hash := fixtureBytes(kindToken, i, "hash")
	id := base64.RawURLEncoding.EncodeToString(idBytes[:9])
	return Token{
		ID:           id,
		KeyHash:      hash[:],
		Display:      "rat_" + id + ".…" + id[:4],
		Owner:        fmt.Sprintf("user%d", i%1000),
		Roles:        []string{"editor", "member"},
		Created:      created,
		Expires:      &expires,
		WriteEnabled: i%2 == 0,
	}
}

// fixtureSession is the i-th generated session, shaped as a login writes one.
func fixtureSession(i int, created, expires time.Time) Session {
	id := fixtureBytes(kindSession, i, "id")
	csrf := fixtureBytes(kindSession, i, "csrf")
	return Session{
		IDHash: id[:], User: fmt.Sprintf("user%d", i%1000), CSRFHash: csrf[:],
		Created: created, IdleExpires: expires, Expires: expires, ClientAddr: "192.0.2.1",
	}
}

// fixtureJTI is the i-th generated JWT id: 128 bits in base64url, as the
// JWT issuer makes them.
func fixtureJTI(i int) string {
	b := fixtureBytes(kindRevocation, i, "jti")
	return base64.RawURLEncoding.EncodeToString(b[:16])
}

func fixtureFailureKey(i int) string { return fmt.Sprintf("user%d|192.0.2.%d", i, i%250) }

// boltLoadBatch records at most are written per transaction by loadBolt.
const boltLoadBatch = 100_000

// loadBolt writes n generated records of kind into b's file, the i-th
// expiring at expires(i), in large write transactions: the records the
// backend's own writes make, and what it keeps in memory of them, in a
// fraction of the time. No transaction adds more records than the file
// holds already (at least 1000): bbolt splits a page only at commit, so a
// transaction that put many records into few pages would insert into ever
// longer sorted lists.
func loadBolt(b *boltBackend, kind recordKind, n int, created time.Time, expires func(i int) time.Time) error {
	db, err := b.database()
	if err != nil {
		return err
	}
	for start, end := 0, 0; start < n; start = end {
		end = min(n, start+min(boltLoadBatch, max(1000, start)))
		err := b.updateDB(db, func(tx *bolt.Tx, w *boltWrites) error {
			for i := start; i < end; i++ {
				var err error
				switch exp := expires(i); kind {
				case kindToken:
					err = insertToken(tx, w, fixtureToken(i, created, exp))
				case kindSession:
					err = putSession(tx, w, fixtureSession(i, created, exp))
				case kindRevocation:
					err = w.put(tx, bucketRevoked, []byte(fixtureJTI(i)), encodeTime(nil, exp))
				case kindFailure:
					err = w.put(tx, bucketFailures, []byte(fixtureFailureKey(i)), encodeCounter(Counter{Count: 3, Expires: exp}))
				default:
					err = fmt.Errorf("no bolt loader for %s", kind)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("loading %d %s records: %w", n, kind, err)
		}
	}
	return nil
}

// redisLoadBatch commands are sent per pipeline by loadRedis.
const redisLoadBatch = 5_000

// loadRedis writes n generated records of kind through pipelines of the
// commands and scripts the backend's own writes use.
func loadRedis(ctx context.Context, b *redisBackend, kind recordKind, n int, created time.Time, expires func(i int) time.Time) error {
	if err := b.ensureTokenLayout(ctx); err != nil {
		return err
	}
	for _, s := range []*redis.Script{scriptCreateToken, scriptRevoke} {
		if err := s.Load(ctx, b.conn.client).Err(); err != nil {
			return fmt.Errorf("loading scripts: %w", err)
		}
	}
	now := time.Now()
	for start := 0; start < n; start += redisLoadBatch {
		cmds, err := b.conn.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(n, start+redisLoadBatch); i++ {
				switch exp := expires(i); kind {
				case kindToken:
					keys, args, err := b.createTokenArgs(fixtureToken(i, created, exp))
					if err != nil {
						return err
					}
					scriptCreateToken.EvalSha(ctx, p, keys, args...)
				case kindSession:
					s := fixtureSession(i, created, exp)
					p.Do(ctx, "SET", b.sessionKey(s.IDHash), encodeSession(s), "PXAT", sessionPXAT(s), "NX")
				case kindRevocation:
					scriptRevoke.EvalSha(ctx, p, []string{b.key("r", fixtureJTI(i))}, pxat(exp), pxat(now))
				default:
					return fmt.Errorf("no redis loader for %s", kind)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("loading %d %s records: %w", n, kind, err)
		}
		for _, c := range cmds {
			if err := c.Err(); err != nil {
				return fmt.Errorf("loading %d %s records: %w", n, kind, err)
			}
		}
	}
	return nil
}
