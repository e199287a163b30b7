package store

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// TestRedisTokensOfOlderVersionFound: tokens stored in the layout of the
// versions before Sentinel and Cluster support (t:, th:, to:, ta without
// a hash tag) are found by key hash, by id and by owner after the upgrade,
// keep their expiry and last use, and can be deleted; nothing of the old
// layout is left.
func TestRedisTokensOfOlderVersionFound(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client()
	ctx := t.Context()
	const prefix = "t:" // newTestBackend's
	now := time.Now().Truncate(time.Millisecond)
	expires := now.Add(time.Hour)
	lastUsed := now.Add(-time.Minute)
	old := []Token{
		{ID: "forever", KeyHash: []byte("hash-forever"), Owner: "alice", Created: now.Add(-2 * time.Second), Roles: []string{"editor"}},
		{ID: "hourly", KeyHash: []byte("hash-hourly"), Owner: "alice", Created: now.Add(-time.Second), Expires: &expires, LastUsed: &lastUsed},
		{ID: "bobs", KeyHash: []byte("hash-bobs"), Owner: "bob", Created: now},
	}
	// What the older CreateToken script wrote.
	for _, tok := range old {
		stored := cloneToken(tok)
		stored.LastUsed = nil
		j, err := json.Marshal(stored)
		if err != nil {
			t.Fatal(err)
		}
		hash := hex.EncodeToString(tok.KeyHash)
		record := prefix + "t:" + tok.ID
		fields := []any{"j", j, "h", hash, "o", tok.Owner}
		if tok.LastUsed != nil {
			fields = append(fields, "lu", nanos(*tok.LastUsed))
		}
		must(t, admin.HSet(ctx, record, fields...).Err())
		must(t, admin.Set(ctx, prefix+"th:"+hash, tok.ID, 0).Err())
		if tok.Expires != nil {
			must(t, admin.PExpireAt(ctx, record, *tok.Expires).Err())
			must(t, admin.PExpireAt(ctx, prefix+"th:"+hash, *tok.Expires).Err())
		}
		for _, index := range []string{prefix + "to:" + tok.Owner, prefix + "ta"} {
			must(t, admin.ZAdd(ctx, index, zMember(tok)).Err())
		}
	}
	// A token that expired: its record is gone, its index entries stayed.
	gone := Token{ID: "expired", Owner: "carol", Created: now}
	must(t, admin.ZAdd(ctx, prefix+"ta", zMember(gone)).Err())
	must(t, admin.ZAdd(ctx, prefix+"to:carol", zMember(gone)).Err())

	// An instance of the older version, listening for invalidations.
	olderInstance := admin.Subscribe(ctx, redisInvalidateChannel)
	defer olderInstance.Close()
	if _, err := olderInstance.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	b, logs := newTestBackend(t, &Redis{Address: srv.Addr()})
	got, err := b.TokenByKeyHash(ctx, []byte("hash-hourly"))
	must(t, err)
	if got.ID != "hourly" || !got.Expires.Equal(expires) || !got.LastUsed.Equal(lastUsed) {
		t.Errorf("TokenByKeyHash after the upgrade = %+v", got)
	}
	for _, tok := range old {
		got, err := b.Token(ctx, tok.ID)
		must(t, err)
		if got.Owner != tok.Owner || !slices.Equal(got.KeyHash, tok.KeyHash) || !slices.Equal(got.Roles, tok.Roles) {
			t.Errorf("Token(%s) after the upgrade = %+v", tok.ID, got)
		}
	}
	for owner, want := range map[string][]string{"": {"forever", "hourly", "bobs"}, "alice": {"forever", "hourly"}, "bob": {"bobs"}, "carol": nil} {
		list, err := b.Tokens(ctx, owner)
		must(t, err)
		var ids []string
		for _, tok := range list {
			ids = append(ids, tok.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("Tokens(%q) after the upgrade = %v, want %v", owner, ids, want)
		}
	}
	if ttl, err := admin.PTTL(ctx, b.tokenKey("th", hex.EncodeToString([]byte("hash-hourly")))).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("key hash index of the expiring token has TTL %v, %v; want the token's", ttl, err)
	}
	left, err := admin.Keys(ctx, prefix+"t[aoh:]*").Result()
	must(t, err)
	if len(left) > 0 {
		t.Errorf("keys of the old layout left: %v", left)
	}
	if n := logs.FilterMessageSnippet("moved the API tokens of an older version").Len(); n != 1 {
		t.Errorf("the move was logged %d times, want once", n)
	}
	// The older instance was told to drop every moved token it cached.
	heard := map[string]bool{}
	for len(heard) < len(old) {
		msg, err := olderInstance.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			t.Fatalf("invalidations heard by an older instance: %v; want the old key hash index of %d tokens", heard, len(old))
		}
		if m, ok := msg.(*redis.Message); ok {
			heard[m.Payload] = true
		}
	}
	for _, tok := range old {
		if k := prefix + "th:" + hex.EncodeToString(tok.KeyHash); !heard[k] {
			t.Errorf("no invalidation of %s for instances of the older version (heard %v)", k, heard)
		}
	}
	must(t, b.DeleteToken(ctx, "forever"))
	if _, err := b.TokenByKeyHash(ctx, []byte("hash-forever")); err != ErrNotFound {
		t.Errorf("TokenByKeyHash of a deleted migrated token = %v, want ErrNotFound", err)
	}
}

// zMember is a token's entry in an index sorted by creation.
func zMember(tok Token) redis.Z {
	return redis.Z{Score: float64(tok.Created.UnixMilli()), Member: tok.ID}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
