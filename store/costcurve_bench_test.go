//go:build linux

package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// BenchmarkCostCurve measures what API tokens, sessions and revoked JWT
// ids cost as a store grows (issue 18's cost curve). For each backend
// (bolt, redis), kind and size in RESTAUTH_COSTCURVE_SIZES, on a new store:
//
//  1. a Caddy on the empty store issues alice's API token, JWT and session
//     (the credentials sent over HTTP below), and stops;
//  2. size generated records of the kind are added in bulk
//     (bulkload_test.go), live for a day;
//  3. curveSamples distinct records are looked up through the store API
//     (TokenByKeyHash, Session, IsRevoked), each once: with redis each
//     is a round trip, the local cache never having seen it;
//  4. Caddy starts on the filled store: the time from starting the
//     process to the first 200 for the API token; then curveRequests GET
//     requests with the kind's credential (after a warm-up, so each is a
//     cache hit where the handler caches), and Caddy's heap in use and RSS;
//     then one scrape of /metrics (whose gauges count the store's tokens and
//     sessions): how long it took, what it counted, the RSS after it;
//  5. every record expires, and the store drops them while a writer logs
//     in and out (creates and deletes a session) over and over, keeping
//     its longest write: bolt's sweep (how long it takes, its write
//     transactions); Redis's own expiry (every key with a TTL set to
//     expire at one moment; until INFO counts them all expired; the
//     longest expire cycle from LATENCY, which records events of 1 ms or
//     more) and, for tokens, the first listing, which removes the stale
//     ids from the token index. The longest write alone, before, is the
//     baseline: a bolt write syncs the file.
//
// scripts/bench-cost-curve.sh runs it and prints the table of
// BENCHMARKS.md; without RESTAUTH_COSTCURVE_SIZES it is skipped. Optional:
// RESTAUTH_COSTCURVE_CADDY, a Caddy built from ./cmd/caddy (else it is
// built), and RESTAUTH_COSTCURVE_REDIS, the address of a redis-server this
// run may empty at will (else one is started).
func BenchmarkCostCurve(b *testing.B) {
	sizes, err := curveSizes(os.Getenv("RESTAUTH_COSTCURVE_SIZES"))
	if err != nil {
		b.Fatal(err)
	}
	if len(sizes) == 0 {
		b.Skip("set RESTAUTH_COSTCURVE_SIZES (e.g. 1000,100000) or run scripts/bench-cost-curve.sh")
	}
	bin := curveCaddyBinary(b)
	redisAddr := os.Getenv("RESTAUTH_COSTCURVE_REDIS")
	if redisAddr == "" {
		redisAddr = redistest.Start(b).Addr()
	}
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	b.Cleanup(func() { _ = rc.Close() })
	stores := []curveStore{&curveBolt{}, &curveRedis{addr: redisAddr, client: rc}}
	for _, st := range stores {
		for _, kind := range []recordKind{kindToken, kindSession, kindRevocation} {
			for _, n := range sizes {
				b.Run(fmt.Sprintf("%s/%s/%d", st.name(), kind, n), func(b *testing.B) {
					runCostCurve(b, st, bin, kind, n)
				})
			}
		}
	}
}

const (
	// curveSamples records are looked up through the store API.
	curveSamples = 10_000
	// curveRequests requests are sent to Caddy with one credential.
	curveRequests = 2_000
	// curveAloneWrites sessions are created before the expiry, for the
	// write latency without it.
	curveAloneWrites = 200
	// curveLive is how long the loaded records live; the sweep runs as of
	// twice that.
	curveLive = 24 * time.Hour
	// curveSlow is issue 18's bound on a login's wait behind the sweep;
	// writes and sweep transactions longer than it are counted.
	curveSlow = 10 * time.Millisecond
)

func curveSizes(s string) ([]int, error) {
	var sizes []int
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("RESTAUTH_COSTCURVE_SIZES: %q is not a positive number", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// curveCaddyBinary returns RESTAUTH_COSTCURVE_CADDY or builds ./cmd/caddy.
func curveCaddyBinary(b *testing.B) string {
	if bin := os.Getenv("RESTAUTH_COSTCURVE_CADDY"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/caddy").CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin
}

// curveLookups is what the cost curve calls on an open store.
type curveLookups interface {
	TokenStore
	SessionStore
	Revocations
}

// curveStore is one backend under measurement.
type curveStore interface {
	name() string
	// reset starts an empty store in dir.
	reset(b *testing.B, dir string)
	// storeBlock is the store line of the Caddyfile.
	storeBlock() string
	// open opens the store in this process, to load and look up records;
	// close releases it.
	open(b *testing.B) curveLookups
	load(kind recordKind, n int, created time.Time, expires func(int) time.Time) error
	close()
	// size is the file size (bolt) or Redis's used_memory, in bytes.
	size(b *testing.B) float64
	// expire lets every record expire and measures the store removing them.
	expire(b *testing.B, kind recordKind, n int)
}

func runCostCurve(b *testing.B, st curveStore, bin string, kind recordKind, n int) {
	dir := b.TempDir()
	st.reset(b, dir)
	first := startCurveCaddy(b, bin, mkdir(b, dir, "caddy-empty"), st.storeBlock())
	b.ReportMetric(ms(first.untilStatus(b, nil, 401)), "start-empty-ms")
	creds := first.login(b)
	first.stop()

	s := st.open(b)
	created := time.Now()
	expires := func(int) time.Time { return created.Add(curveLive) }
	start := time.Now()
	if err := st.load(kind, n, created, expires); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "load-s")
	lookups := curveLookupTimes(b, s, kind, n, created)
	b.ReportMetric(us(percentile(lookups, 0.50)), "api-p50-us")
	b.ReportMetric(us(percentile(lookups, 0.99)), "api-p99-us")
	st.close()
	b.ReportMetric(st.size(b)/1e6, "store-MB")

	c := startCurveCaddy(b, bin, mkdir(b, dir, "caddy-full"), st.storeBlock())
	b.ReportMetric(ms(c.untilStatus(b, creds.header(kindToken), 200)), "start-ms")
	c.latencies(b, creds.header(kind), 100)
	reqs := c.latencies(b, creds.header(kind), curveRequests)
	b.ReportMetric(us(percentile(reqs, 0.50)), "http-p50-us")
	b.ReportMetric(us(percentile(reqs, 0.99)), "http-p99-us")
	heap, rss := c.memory(b)
	b.ReportMetric(heap/1e6, "caddy-heap-MB")
	b.ReportMetric(rss/1e6, "caddy-rss-MB")
	took, tokens, sessions := c.scrape(b)
	b.ReportMetric(ms(took), "scrape-ms")
	b.ReportMetric(tokens, "scrape-tokens")
	b.ReportMetric(sessions, "scrape-sessions")
	_, rss = c.memory(b)
	b.ReportMetric(rss/1e6, "scrape-rss-MB")
	c.stop()

	st.expire(b, kind, n)
}

func mkdir(b *testing.B, parent, name string) string {
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		b.Fatal(err)
	}
	return d
}

// curveLookupTimes looks up curveSamples distinct records (all of them when
// there are fewer) and returns how long each lookup took.
func curveLookupTimes(b *testing.B, s curveLookups, kind recordKind, n int, created time.Time) []time.Duration {
	ctx := context.Background()
	idx := rand.New(rand.NewPCG(1, 2)).Perm(n)[:min(n, curveSamples)]
	out := make([]time.Duration, len(idx))
	for j, i := range idx {
		var err error
		var start time.Time
		switch kind {
		case kindToken:
			hash := fixtureToken(i, created, created).KeyHash
			start = time.Now()
			_, err = s.TokenByKeyHash(ctx, hash)
		case kindSession:
			id := fixtureSession(i, created, created).IDHash
			start = time.Now()
			_, err = s.Session(ctx, id)
		case kindRevocation:
			jti := fixtureJTI(i)
			start = time.Now()
			var revoked bool
			revoked, err = s.IsRevoked(ctx, jti)
			if err == nil && !revoked {
				err = fmt.Errorf("jti %s not revoked", jti)
			}
		}
		out[j] = time.Since(start)
		if err != nil {
			b.Fatalf("looking up %s %d: %v", kind, i, err)
		}
	}
	return out
}

// curveWriter logs in and out (creates a session, deletes it) over and
// over until stopped, and keeps the longest time one of these writes took.
// Deleting again keeps the store's size as loaded.
type curveWriter struct {
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
	longest time.Duration
	writes  int
	slow    int // writes that took longer than curveSlow
	// With a bolt store: the longest wait for bbolt's writer lock, and
	// the waits longer than curveSlow (what issue 18 bounds).
	waits     *writeWaits
	longWait  time.Duration
	slowWaits int
	err       error
}

// writeWaits times how long each write of one goroutine waited for bbolt's
// writer lock: set begun as the store's onWriteBegun.
type writeWaits struct{ at atomic.Int64 }

func (ww *writeWaits) begun() { ww.at.Store(time.Now().UnixNano()) }

// since is how long the write that began at start waited for the lock.
func (ww *writeWaits) since(start time.Time) time.Duration {
	return time.Unix(0, ww.at.Load()).Sub(start)
}

// startCurveWriter starts the writer on s; waits, when not nil, is s's
// onWriteBegun.
func startCurveWriter(b *testing.B, s SessionStore, waits *writeWaits) *curveWriter {
	w := &curveWriter{stop: make(chan struct{}), done: make(chan struct{}), waits: waits}
	b.Cleanup(w.halt)
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			writes, waited, err := loginLogout(s, -1-i, w.waits)
			if err != nil {
				w.err = err
				return
			}
			for j, d := range writes {
				w.longest = max(w.longest, d)
				w.longWait = max(w.longWait, waited[j])
				w.writes++
				if d > curveSlow {
					w.slow++
				}
				if waited[j] > curveSlow {
					w.slowWaits++
				}
			}
		}
	}()
	return w
}

func (w *curveWriter) halt() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// finish stops the writer and reports what it saw.
func (w *curveWriter) finish(b *testing.B, prefix string) {
	w.halt()
	if w.err != nil {
		b.Fatalf("a write during %s: %v", prefix, w.err)
	}
	b.ReportMetric(ms(w.longest), prefix+"-write-max-ms")
	b.ReportMetric(float64(w.writes), prefix+"-writes")
	b.ReportMetric(float64(w.slow), prefix+"-slow-writes")
	if w.waits != nil {
		b.ReportMetric(ms(w.longWait), prefix+"-wait-max-ms")
		b.ReportMetric(float64(w.slowWaits), prefix+"-slow-waits")
	}
}

// loginLogout creates the i-th generated session, live long after every
// loaded record has expired, and deletes it, and returns how long each of
// the two writes took and, with waits (bolt), how long each waited for the
// writer lock.
func loginLogout(s SessionStore, i int, waits *writeWaits) (took, waited [2]time.Duration, err error) {
	ctx := context.Background()
	now := time.Now()
	sess := fixtureSession(i, now, now.Add(4*curveLive))
	write := func(j int, op func() error) error {
		start := time.Now()
		if err := op(); err != nil {
			return err
		}
		took[j] = time.Since(start)
		if waits != nil {
			waited[j] = waits.since(start)
		}
		return nil
	}
	if err := write(0, func() error { return s.CreateSession(ctx, sess) }); err != nil {
		return took, waited, err
	}
	err = write(1, func() error { return s.DeleteSession(ctx, sess.IDHash) })
	return took, waited, err
}

// aloneWriteMax logs in and out curveAloneWrites times, with nothing else
// going on, and returns the longest write.
func aloneWriteMax(b *testing.B, s SessionStore) time.Duration {
	var longest time.Duration
	for i := range curveAloneWrites {
		writes, _, err := loginLogout(s, -10_000_000-i, nil)
		if err != nil {
			b.Fatal(err)
		}
		longest = max(longest, writes[0], writes[1])
	}
	return longest
}

// curveBolt is the bolt store: one file.
type curveBolt struct {
	path string
	bb   *boltBackend // while open
}

func (*curveBolt) name() string { return "bolt" }

func (c *curveBolt) reset(_ *testing.B, dir string) { c.path = filepath.Join(dir, "restauth.db") }

func (c *curveBolt) storeBlock() string { return "store bolt " + c.path }

func (c *curveBolt) openBackend(b *testing.B) *boltBackend {
	bb, err := openBolt(c.path, 5*time.Second, time.Hour, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bb.database(); err != nil {
		b.Fatal(err)
	}
	return bb
}

func (c *curveBolt) open(b *testing.B) curveLookups {
	c.bb = c.openBackend(b)
	return c.bb
}

func (c *curveBolt) load(kind recordKind, n int, created time.Time, expires func(int) time.Time) error {
	return loadBolt(c.bb, kind, n, created, expires)
}

func (c *curveBolt) close() {
	_ = c.bb.destroy()
	c.bb = nil
}

func (c *curveBolt) size(b *testing.B) float64 {
	fi, err := os.Stat(c.path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(fi.Size())
}

// expire sweeps as of when every loaded record has expired.
func (c *curveBolt) expire(b *testing.B, _ recordKind, n int) {
	bb := c.openBackend(b)
	defer func() { _ = bb.destroy() }()
	b.ReportMetric(ms(aloneWriteMax(b, bb)), "alone-write-max-ms")
	var holds []time.Duration
	var deleting time.Duration
	records := 0
	bb.onSweepBatch = func(sb sweepBatch) {
		holds = append(holds, sb.hold)
		deleting = max(deleting, sb.deleting)
		records += sb.records
	}
	waits := &writeWaits{}
	bb.onWriteBegun = waits.begun
	w := startCurveWriter(b, bb, waits)
	start := time.Now()
	if err := bb.sweep(time.Now().Add(2 * curveLive)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "sweep-s")
	w.finish(b, "sweep")
	b.ReportMetric(ms(percentile(holds, 1)), "hold-max-ms")
	b.ReportMetric(ms(percentile(holds, 0.99)), "hold-p99-ms")
	b.ReportMetric(ms(deleting), "delete-max-ms")
	b.ReportMetric(float64(len(holds)), "transactions")
	slow := 0
	for _, h := range holds {
		if h > curveSlow {
			slow++
		}
	}
	b.ReportMetric(float64(slow), "slow-transactions")
	if records < n {
		b.Fatalf("the sweep deleted %d records, want at least the %d loaded", records, n)
	}
}

// curveRedis is the redis store, on the default key prefix Caddy uses.
type curveRedis struct {
	addr   string
	client *redis.Client
	// while open:
	rb      *redisBackend
	closeRB func()
}

func (*curveRedis) name() string { return "redis" }

func (c *curveRedis) reset(b *testing.B, _ string) {
	flush := func() {
		if err := c.client.FlushAll(context.Background()).Err(); err != nil {
			b.Fatal(err)
		}
	}
	flush()
	b.Cleanup(flush)
}

func (c *curveRedis) storeBlock() string {
	return "store redis {\n\t\t\taddress " + c.addr + "\n\t\t}"
}

func (c *curveRedis) backend(b *testing.B) (*redisBackend, func()) {
	r := &Redis{Address: c.addr}
	target, err := r.target()
	if err != nil {
		b.Fatal(err)
	}
	conn := newRedisConn(target, zap.NewNop())
	return newRedisBackend(conn, "restauth:", r.WaitReplicas, r.waitTimeout()), func() { _ = conn.destroy() }
}

func (c *curveRedis) open(b *testing.B) curveLookups {
	c.rb, c.closeRB = c.backend(b)
	return c.rb
}

func (c *curveRedis) load(kind recordKind, n int, created time.Time, expires func(int) time.Time) error {
	return loadRedis(context.Background(), c.rb, kind, n, created, expires)
}

func (c *curveRedis) close() {
	c.closeRB()
	c.rb, c.closeRB = nil, nil
}

func (c *curveRedis) size(b *testing.B) float64 { return c.info(b, "memory", "used_memory") }

// info reads one field of a section of INFO.
func (c *curveRedis) info(b *testing.B, section, field string) float64 {
	s, err := c.client.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return f
		}
	}
	b.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// latencyMax is the longest latency Redis recorded for event since the
// last LATENCY RESET, in milliseconds (0: none of 1 ms or more).
func (c *curveRedis) latencyMax(b *testing.B, event string) float64 {
	rows, err := c.client.Do(context.Background(), "LATENCY", "LATEST").Slice()
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range rows {
		if row, ok := r.([]any); ok && len(row) == 4 && row[0] == event {
			if v, ok := row[3].(int64); ok {
				return float64(v)
			}
		}
	}
	return 0
}

func (c *curveRedis) resetLatency(b *testing.B) {
	ctx := context.Background()
	if err := c.client.ConfigSet(ctx, "latency-monitor-threshold", "1").Err(); err != nil {
		b.Fatal(err)
	}
	if err := c.client.Do(ctx, "LATENCY", "RESET").Err(); err != nil {
		b.Fatal(err)
	}
}

// expire moves every key that has a TTL to expire at one moment, then
// measures Redis dropping them (and, for tokens, the first listing).
func (c *curveRedis) expire(b *testing.B, kind recordKind, n int) {
	ctx := context.Background()
	rb, closeBackend := c.backend(b)
	defer closeBackend()
	b.ReportMetric(ms(aloneWriteMax(b, rb)), "alone-write-max-ms")

	var keys []string
	iter := c.client.Scan(ctx, 0, "*", 10_000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	var expiring []string
	for chunk := range slices.Chunk(keys, 10_000) {
		cmds, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.PTTL(ctx, k)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for i, cmd := range cmds {
			if cmd.(*redis.DurationCmd).Val() > 0 {
				expiring = append(expiring, chunk[i])
			}
		}
	}
	at := time.Now().Add(3*time.Second + time.Duration(len(expiring))*5*time.Microsecond)
	for chunk := range slices.Chunk(expiring, 10_000) {
		if _, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.PExpireAt(ctx, k, at)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if time.Now().After(at) {
		b.Fatal("setting the expiries took longer than planned; the keys began to expire before all were set")
	}
	expired := c.info(b, "stats", "expired_keys")
	c.resetLatency(b)
	time.Sleep(time.Until(at.Add(-50 * time.Millisecond)))
	w := startCurveWriter(b, rb, nil)
	time.Sleep(time.Until(at))
	deadline := at.Add(5 * time.Minute)
	for c.info(b, "stats", "expired_keys")-expired < float64(len(expiring)) {
		if time.Now().After(deadline) {
			b.Fatal("Redis did not expire the keys within 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportMetric(time.Since(at).Seconds(), "sweep-s")
	w.finish(b, "sweep")
	b.ReportMetric(c.latencyMax(b, "expire-cycle"), "hold-max-ms")
	if len(expiring) < n {
		b.Fatalf("%d keys expired, want at least the %d loaded records", len(expiring), n)
	}

	if kind != kindToken {
		return
	}
	c.resetLatency(b)
	w = startCurveWriter(b, rb, nil)
	start := time.Now()
	if _, err := rb.Tokens(ctx, ""); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "index-s")
	w.finish(b, "index")
	b.ReportMetric(c.latencyMax(b, "command"), "index-cmd-max-ms")
	if left, err := c.client.ZCard(ctx, rb.allTokensKey()).Result(); err != nil || left > 1 {
		b.Fatalf("the token index holds %d ids after the listing (%v), want only alice's", left, err)
	}
}

// percentile is the nearest-rank q-quantile of d (1 is the largest).
func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
