package store

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// slowlogMore is how Redis's SLOWLOG shortens a command of more than 32
// arguments: the 32nd names how many more there were.
var slowlogMore = regexp.MustCompile(`^\.\.\. \((\d+) more arguments\)$`)

// TestRedisTokenListingBatches: listing tokens over an index full of
// expired ids returns the live tokens and removes the stale ids from the
// index, reading and removing them a batch per command (as Redis's
// SLOWLOG, logging every command, shows) instead of in one command.
func TestRedisTokenListingBatches(t *testing.T) {
	const n = 2500
	srv := redistest.Start(t)
	b, _ := newTestRedis(t, srv.Addr())
	ctx := t.Context()
	base := time.Now()
	if err := loadRedis(ctx, b, kindToken, n, base, sweepTestExpiry(base)); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	for _, kv := range [][2]string{{"slowlog-log-slower-than", "0"}, {"slowlog-max-len", "100000"}} {
		if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Do(ctx, "SLOWLOG", "RESET").Err(); err != nil {
		t.Fatal(err)
	}
	// As this store sees it, every token but the live ones has expired;
	// Redis still holds them (their TTL is a minute).
	b.now = func() time.Time { return base.Add(time.Hour) }

	list, err := b.Tokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]bool)
	for i := range n {
		if sweepTestLive(i) {
			want[fixtureToken(i, base, base).ID] = true
		}
	}
	for _, tok := range list {
		if !want[tok.ID] {
			t.Errorf("listed token %s, which has expired", tok.ID)
		}
		delete(want, tok.ID)
	}
	if len(want) != 0 {
		t.Errorf("%d live tokens missing from the listing", len(want))
	}
	if got, err := c.ZCard(ctx, b.allTokensKey()).Result(); err != nil || got != n/10 {
		t.Errorf("index holds %d ids after the listing (%v), want the %d live ones", got, err, n/10)
	}

	log, err := c.SlowLogGet(ctx, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := make(map[string]int)
	for _, e := range log {
		name := strings.ToUpper(e.Args[0])
		calls[name]++
		if name != "ZREM" {
			continue
		}
		args := len(e.Args)
		if m := slowlogMore.FindStringSubmatch(e.Args[len(e.Args)-1]); m != nil {
			more, _ := strconv.Atoi(m[1])
			args += more - 1
		}
		if members := args - 2; members > redisIndexBatch {
			t.Errorf("one ZREM removed %d ids, want at most %d", members, redisIndexBatch)
		}
	}
	if calls["ZRANGE"] != 0 || calls["ZSCAN"] < n/redisIndexBatch || calls["ZREM"] < n*9/10/redisIndexBatch {
		t.Errorf("commands: %d ZRANGE, %d ZSCAN, %d ZREM; want no ZRANGE and the index read and cleaned in batches", calls["ZRANGE"], calls["ZSCAN"], calls["ZREM"])
	}
}
