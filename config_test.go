package restauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
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

// TestBadConfigFailsAtLoad checks that mistakes stop the config from
// loading, with a message that names the problem.
func TestBadConfigFailsAtLoad(t *testing.T) {
	assertConfigErrors(t, []configCase{
		{"unknown subdirective", "frobnicate yes", `unknown subdirective "frobnicate"`},
		{"malformed bcrypt hash", "user alice $2a$10$tooshort", `user "alice": malformed bcrypt password hash`},
		{"plaintext password", "user alice hunter2", `user "alice": unsupported password hash`},
		{"malformed argon2id hash", "user alice $argon2id$v=19$broken", `user "alice": malformed argon2id password hash`},
		{"user without hash", "user alice", "user: want `user <name> <password hash>"},
		{"duplicate user", "user alice " + aliceHash + "\n\t\tuser alice " + aliceHash, `user "alice" is defined more than once`},
		{"users_file missing", "users_file /nonexistent/users.json", "reading users_file: open /nonexistent/users.json"},
		{"users_file invalid JSON", "users_file " + testdataPath(t, "users_invalid.json"), "users_invalid.json: invalid JSON"},
		{"anonymous value", "anonymous maybe", `anonymous: "maybe" is not one of none, read, write`},
		{"unknown authenticator in order", "order basic kerberos", `order: unknown authenticator "kerberos"`},
		{"authenticator configured twice", "basic\n\t\tbasic", `basic: configured twice`},
		{"unknown basic option", "basic {\n\t\t\tpopup\n\t\t}", `basic: unknown option "popup"`},
		{"unknown store", "store etcd", `unknown store "etcd"`},
		{"bad endpoints prefix", "endpoints api", `endpoints: "api" must be a path starting with /`},
		{"bad header name", "user_header \"X Remote\"", `header name "X Remote" is not a valid HTTP header name`},
		{"reserved header name", "roles_header authorization", `header name "authorization" is reserved`},
		{"allow_roles without roles", "allow_roles", "allow_roles: name at least one role"},
		{"bad role", "write_roles \"a,b\"", `role "a,b" must be a non-empty word`},
	})
}

// aliceHash is alice's bcrypt hash from testdata/users.json.
const aliceHash = "$2a$10$42ttQUXvSCo88C1QJ/O36.i5jRP21E9c2fY4lqdm/BYUzzLAWDCfm"
