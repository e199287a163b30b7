package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/caddy-restauth/caddy-restauth/store"
	"github.com/caddy-restauth/caddy-restauth/store/storetest"
)

// openBoltIn returns an open func for the suites: one file per test name
// in dir, so a subtest that opens twice gets its own file back.
func openBoltIn(dir string) func(t *testing.T) store.Store {
	return func(t *testing.T) store.Store {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		return provision(t, &store.Bolt{Path: filepath.Join(dir, name+".db")})
	}
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, openBoltIn(t.TempDir()))
}

func TestBoltReopen(t *testing.T) {
	storetest.RunReopen(t, openBoltIn(t.TempDir()))
}

// lockedFor reports whether another bbolt handle on path would wait for
// the lock, that is, whether the store still holds the file open.
func lockedFor(t *testing.T, path string) bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return true
	}
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return false
}

func TestBoltSharedPath(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.db")
	a := provision(t, &store.Bolt{Path: path})
	// Another spelling of the same file shares the handle too; were it
	// opened a second time, the file lock would make Provision time out.
	b := provision(t, &store.Bolt{Path: filepath.Join(dir, ".", "sub", "..", "shared.db")})

	tok := store.Token{ID: "t1", KeyHash: []byte("hash"), Owner: "alice", Created: time.Now()}
	if err := a.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Token(ctx, "t1"); err != nil {
		t.Errorf("token written through one module, read through the other: %v", err)
	}

	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if !lockedFor(t, path) {
		t.Fatal("file closed while a module still uses it")
	}
	if _, err := b.Token(ctx, "t1"); err != nil {
		t.Errorf("Token after the other module's Cleanup: %v", err)
	}
	if err := b.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := b.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if lockedFor(t, path) {
		t.Fatal("file still open after the last Cleanup")
	}
	// An operation that comes late (a request outliving its config) is
	// refused and does not open the file again, which would keep it
	// locked from the next config.
	if _, err := b.Token(ctx, "t1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Token after the last Cleanup: %v, want ErrUnavailable", err)
	}
	if lockedFor(t, path) {
		t.Fatal("a late operation opened the file again")
	}

	// And a new module opens it again, with the data.
	c := provision(t, &store.Bolt{Path: path})
	t.Cleanup(func() { _ = c.Cleanup() })
	if _, err := c.Token(ctx, "t1"); err != nil {
		t.Errorf("Token after reopening: %v", err)
	}
}

func TestBoltSymlinkSharesPath(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatalf("creating a symlink: %v", err)
	}
	a := provision(t, &store.Bolt{Path: filepath.Join(real, "s.db")})
	t.Cleanup(func() { _ = a.Cleanup() })
	b := provision(t, &store.Bolt{Path: filepath.Join(link, "s.db")})
	t.Cleanup(func() { _ = b.Cleanup() })
	if a.Path != b.Path {
		t.Errorf("paths resolved to %s and %s", a.Path, b.Path)
	}
}

func TestBoltDefaultPath(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	b := provision(t, &store.Bolt{})
	t.Cleanup(func() { _ = b.Cleanup() })

	want := filepath.Join(data, "caddy", "restauth", "restauth.db")
	if b.Path != want {
		t.Errorf("Path = %s, want %s", b.Path, want)
	}
	// The first operation creates the file.
	if _, err := b.IsRevoked(t.Context(), "jti"); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{filepath.Dir(want): 0o700, want: 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != mode {
			t.Errorf("%s mode = %v, want %v", path, got, mode)
		}
	}
}

func TestBoltPathIsDirectory(t *testing.T) {
	dir := t.TempDir()
	b := &store.Bolt{Path: dir}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Validate = %v, want an error about a directory", err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := b.Provision(ctx); err == nil {
		_ = b.Cleanup()
		t.Error("Provision of a directory: no error")
	}
	if err := b.Cleanup(); err != nil {
		t.Errorf("Cleanup after a failed Provision: %v", err)
	}
}

func TestBoltNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file\n", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	b := &store.Bolt{Path: path}
	if err := b.Provision(ctx); err != nil {
		t.Fatalf("Provision (which does not open the file): %v", err)
	}
	defer func() { _ = b.Cleanup() }()
	_, err := b.Token(t.Context(), "t1")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("first operation on a file that is not a database: %v, want ErrUnavailable", err)
	}
	if err == nil || !strings.Contains(err.Error(), "opening token store "+path) {
		t.Errorf("error = %v, want it to name the file", err)
	}
}

// TestBoltLoadModule goes through Caddy's own loading: JSON config,
// Provision, Validate, and Cleanup when the context is cancelled.
func TestBoltLoadModule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loaded.db")
	raw, err := json.Marshal(map[string]string{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	mod, err := ctx.LoadModuleByID("http.handlers.rest_auth.stores.bolt", raw)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s, ok := mod.(store.Store)
	if !ok {
		cancel()
		t.Fatalf("module is a %T, not a store.Store", mod)
	}
	if _, err := s.Revoke(t.Context(), "jti", time.Now().Add(time.Hour)); err != nil {
		t.Error(err)
	}
	cancel()
	if lockedFor(t, path) {
		t.Error("file still open after the config context ended")
	}

	dirRaw, err := json.Marshal(map[string]string{"path": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if _, err := ctx.LoadModuleByID("http.handlers.rest_auth.stores.bolt", dirRaw); err == nil {
		t.Error("loading a store whose path is a directory: no error")
	}
}

func TestBoltCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input   string
		want    string
		wantErr string
	}{
		{input: "bolt", want: ""},
		{input: "bolt /path/file.db", want: "/path/file.db"},
		{input: "bolt {\n path /path/file.db \n}", want: "/path/file.db"},
		{input: "bolt {\n}", want: ""},
		{input: "bolt /a /b", wantErr: "wrong argument count"},
		{input: "bolt {\n path \n}", wantErr: "wrong argument count"},
		{input: "bolt {\n path /a /b \n}", wantErr: "wrong argument count"},
		{input: "bolt /a {\n path /b \n}", wantErr: "already specified"},
		{input: "bolt {\n timeout 5s \n}", wantErr: `unknown store bolt option "timeout"`},
	} {
		d := caddyfile.NewTestDispenser(tc.input)
		d.Next() // the parent has read the backend name
		var b store.Bolt
		err := b.UnmarshalCaddyfile(d)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error = %v, want one containing %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		if b.Path != tc.want {
			t.Errorf("%q: Path = %q, want %q", tc.input, b.Path, tc.want)
		}
	}
}

// checkBoltFile runs bbolt's consistency check on the file at path,
// opened as a release that writes its list of free pages would open it.
func checkBoltFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("opening %s with bbolt's defaults: %v", path, err)
	}
	defer func() { _ = db.Close() }()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("consistency check: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestBoltFileWithoutFreelist: the store does not write bbolt's list of
// free pages; a file goes back and forth between it and bbolt's defaults
// (a file of an earlier release, a downgrade) with its records and its
// consistency intact, free pages included.
func TestBoltFileWithoutFreelist(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "restauth.db")
	tok := func(id string) store.Token {
		return store.Token{ID: id, KeyHash: []byte("hash-" + id), Owner: "alice", Created: time.Now()}
	}
	for round, id := range []string{"t1", "t2", "t3"} {
		s := provision(t, &store.Bolt{Path: path})
		for _, earlier := range []string{"t1", "t2", "t3"}[:round] {
			if _, err := s.Token(ctx, earlier); err != nil {
				t.Fatalf("round %d: token %s written before: %v", round, earlier, err)
			}
		}
		for i := range 200 { // pages to free
			if err := s.CreateToken(ctx, tok(fmt.Sprintf("%s-%d", id, i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 200 {
			if err := s.DeleteToken(ctx, fmt.Sprintf("%s-%d", id, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateToken(ctx, tok(id)); err != nil {
			t.Fatal(err)
		}
		if err := s.Cleanup(); err != nil {
			t.Fatal(err)
		}
		checkBoltFile(t, path)
	}
}
