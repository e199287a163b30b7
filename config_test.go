package restauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	// reverse_proxy, the one directive of the goldens that is neither
	// rest_auth's nor built into the HTTP app.
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/adapt")

// TestAdaptGolden adapts every testdata/adapt/*.caddyfile and compares the
// JSON with its golden file (go test -run TestAdaptGolden -update rewrites).
func TestAdaptGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.caddyfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(in, map[string]any{"filename": file})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(file, ".caddyfile") + ".json"
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(want, pretty.Bytes()) {
				t.Errorf("adapted JSON differs from %s:\n%s", golden, pretty.String())
			}
		})
	}
}

// TestHeaderRegistry: names stay known while any block uses them, the
// defaults always, and spellings of one name count once.
func TestHeaderRegistry(t *testing.T) {
	r := newHeaderRegistry(defaultUserHeader, defaultRolesHeader)
	r.add("X-User", "X-Roles")
	r.add("x-user", "X-Groups")
	r.add("X-Remote-User", "X_Remote_Roles")
	steps := []struct {
		remove []string
		want   []string
	}{
		{nil, []string{"X-Remote-User", "X-Remote-Roles", "X-Groups", "X-Roles", "X-User"}},
		{[]string{"X-User", "X-Roles"}, []string{"X-Remote-User", "X-Remote-Roles", "X-Groups", "X-User"}},
		{[]string{"x-user", "X-Groups"}, []string{"X-Remote-User", "X-Remote-Roles"}},
		{[]string{"X-Remote-User", "X_Remote_Roles"}, []string{"X-Remote-User", "X-Remote-Roles"}},
	}
	for i, s := range steps {
		r.remove(s.remove...)
		got := r.set().names
		if len(got) != len(s.want) || !slices.Equal(got[:2], s.want[:2]) {
			t.Fatalf("step %d: names %q, want %q", i, got, s.want)
		}
		for _, w := range s.want {
			if !slices.Contains(got, w) {
				t.Fatalf("step %d: names %q lack %q", i, got, w)
			}
		}
	}
}
