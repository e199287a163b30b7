package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/store"
	"github.com/caddy-restauth/caddy-restauth/store/storetest"
)

// provision provisions m in a fresh Caddy context, as Caddy would.
func provision[T caddy.Provisioner](t *testing.T, m T) T {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return m
}

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// The test name keeps every subtest's data set apart.
		return provision(t, &store.Memory{Name: t.Name()})
	})
}

func TestMemorySharedByName(t *testing.T) {
	ctx := t.Context()
	a := provision(t, &store.Memory{Name: "shared"})
	b := provision(t, &store.Memory{Name: "shared"})
	other := provision(t, &store.Memory{Name: "other"})
	t.Cleanup(func() { _ = other.Cleanup() })

	if _, err := a.Revoke(ctx, "jti", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]store.Store{"same name": b, "other name": other} {
		got, err := s.IsRevoked(ctx, "jti")
		if err != nil {
			t.Fatal(err)
		}
		if want := name == "same name"; got != want {
			t.Errorf("IsRevoked through the store with the %s = %v, want %v", name, got, want)
		}
	}

	// A reload provisions the new config before cleaning up the old one:
	// the data survives while any module uses the name.
	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.IsRevoked(ctx, "jti"); err != nil || !got {
		t.Errorf("IsRevoked after one Cleanup = %v, %v; want true", got, err)
	}
	if err := b.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c := provision(t, &store.Memory{Name: "shared"})
	t.Cleanup(func() { _ = c.Cleanup() })
	if got, err := c.IsRevoked(ctx, "jti"); err != nil || got {
		t.Errorf("IsRevoked after the last Cleanup = %v, %v; want false", got, err)
	}
}

func TestMemoryDefaultName(t *testing.T) {
	m := provision(t, &store.Memory{})
	t.Cleanup(func() { _ = m.Cleanup() })
	if m.Name != "default" {
		t.Errorf("Name = %q, want %q", m.Name, "default")
	}
}

func TestMemoryCloseAndCleanup(t *testing.T) {
	m := provision(t, &store.Memory{Name: t.Name()})
	for i, release := range []func() error{m.Close, m.Cleanup, m.Close} {
		if err := release(); err != nil {
			t.Errorf("release %d: %v", i, err)
		}
	}
	// Cleanup after a failed or skipped Provision has nothing to release.
	if err := new(store.Memory).Cleanup(); err != nil {
		t.Errorf("Cleanup of an unprovisioned store: %v", err)
	}
}

func TestMemoryCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input   string
		want    string
		wantErr bool
	}{
		{input: "memory", want: ""},
		{input: "memory foo", want: "foo"},
		{input: "memory {\n name foo \n}", want: "foo"},
		{input: "memory {\n}", want: ""},
		{input: "memory foo bar", wantErr: true},
		{input: "memory {\n name \n}", wantErr: true},
		{input: "memory {\n name a b \n}", wantErr: true},
		{input: "memory foo {\n name bar \n}", wantErr: true},
		{input: "memory {\n size 10 \n}", wantErr: true},
	} {
		d := caddyfile.NewTestDispenser(tc.input)
		d.Next() // the parent has read the backend name
		var m store.Memory
		err := m.UnmarshalCaddyfile(d)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.input)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		if m.Name != tc.want {
			t.Errorf("%q: Name = %q, want %q", tc.input, m.Name, tc.want)
		}
	}
}

// TestCaddyfileNested checks that a store block inside a parent block
// consumes exactly its own tokens.
func TestCaddyfileNested(t *testing.T) {
	d := caddyfile.NewTestDispenser(`rest_auth {
		store memory {
			name nested
		}
		anonymous read
	}`)
	d.Next() // rest_auth
	var m store.Memory
	for d.NextBlock(0) {
		switch d.Val() {
		case "store":
			if !d.NextArg() || d.Val() != "memory" {
				t.Fatalf("store backend = %q", d.Val())
			}
			if err := m.UnmarshalCaddyfile(d); err != nil {
				t.Fatal(err)
			}
		case "anonymous":
			if !d.NextArg() || d.Val() != "read" {
				t.Errorf("after the store block, anonymous = %q", d.Val())
			}
		default:
			t.Errorf("unexpected directive %q: the store block leaked tokens", d.Val())
		}
	}
	if m.Name != "nested" {
		t.Errorf("Name = %q, want nested", m.Name)
	}
}

func TestModulesRegistered(t *testing.T) {
	for _, id := range []string{"http.handlers.rest_auth.stores.memory", "http.handlers.rest_auth.stores.bolt"} {
		info, err := caddy.GetModule(id)
		if err != nil {
			t.Errorf("GetModule(%s): %v", id, err)
			continue
		}
		if _, ok := info.New().(store.Store); !ok {
			t.Errorf("module %s does not implement store.Store", id)
		}
	}
}
