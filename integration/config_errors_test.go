package integration

import (
	"strings"
	"testing"
)

// TestBadConfigFailsAtAdapt checks that every mistake the Caddyfile alone
// shows fails `caddy adapt` with the line it is on and what to do.
func TestBadConfigFailsAtAdapt(t *testing.T) {
	assertConfigErrors(t, []configCase{
		{"unknown subdirective", "frobnicate yes", `unknown subdirective "frobnicate"`},
		{"malformed bcrypt hash", "user alice $2a$10$tooshort", `user "alice": malformed bcrypt password hash`},
		{"truncated bcrypt hash", "user alice " + aliceHash[:59], `user "alice": malformed bcrypt password hash: want $2a$<cost>$ and 53 characters, got 59`},
		{"bcrypt hash with a foreign character", "user alice " + aliceHash[:59] + "!", `user "alice": malformed bcrypt password hash`},
		{"plaintext password", "user alice hunter2", `user "alice": unsupported password hash: want bcrypt ($2a$...) or argon2id ($argon2id$...); a plaintext password is never accepted`},
		{"malformed argon2id hash", "user alice $argon2id$v=19$broken", `user "alice": malformed argon2id password hash`},
		{"truncated argon2id hash", "user dave " + daveHash[:len(daveHash)-31], `user "dave": malformed argon2id password hash: salt of 16 bytes and hash of 9 bytes are too short`},
		{"argon2id without cost", "user dave " + strings.Replace(daveHash, "t=1", "t=0", 1), `user "dave": malformed argon2id password hash: m, t and p must be positive numbers`},
		{"bad role of a user", "user alice " + aliceHash + " \"a,b\"", `user "alice": role "a,b" must be a non-empty word`},
		{"user without hash", "user alice", "user: want `user <name> <password hash>"},
		// A password check refuses a longer name before any store access:
		// such a user could never log in.
		{"user name over 256 bytes", "user " + strings.Repeat("a", 257) + " " + aliceHash, `name is 257 bytes long; at most 256`},
		{"duplicate user", "user alice " + aliceHash + "\n\t\tuser alice " + aliceHash, `user "alice" is defined more than once; keep one ` + "`user alice`" + ` line`},
		{"anonymous value", "anonymous maybe", `anonymous: "maybe" is not one of none, read, write`},
		{"unknown authenticator in order", "order basic kerberos", `order: unknown authenticator "kerberos"`},
		{"authenticator configured twice", "basic\n\t\tbasic", `basic: configured twice`},
		{"unknown basic option", "basic {\n\t\t\tpopup\n\t\t}", `basic: unknown option "popup"`},
		{"unknown store", "store etcd", `unknown store "etcd"`},
		{"redis named two ways", "store redis 127.0.0.1:6379 {\n\t\t\tcluster 10.0.0.1:7000 10.0.0.2:7000\n\t\t}",
			"redis store: address and cluster are mutually exclusive: name one server (address or url), a Sentinel master (sentinel) or a Cluster (cluster)"},
		{"redis sentinel without sentinels", "store redis {\n\t\t\tsentinel mymaster\n\t\t}", "store redis sentinel: want `sentinel <master name> <host:port>...`"},
		{"redis cluster with a database", "store redis {\n\t\t\tcluster 10.0.0.1:7000\n\t\t\tdb 2\n\t\t}", "db must be 0 with cluster"},
		{"bad endpoints prefix", "endpoints api", `endpoints: "api" must be a path starting with /`},
		{"bad header name", "user_header \"X Remote\"", `header name "X Remote" is not a valid HTTP header name`},
		{"reserved header name", "roles_header authorization", `header name "authorization" is reserved`},
		{"allow_roles without roles", "allow_roles", "allow_roles: name at least one role"},
		{"bad role", "write_roles \"a,b\"", `role "a,b" must be a non-empty word`},
		{"session duration", "session {\n\t\t\tidle_timeout two-hours\n\t\t}", `session: idle_timeout: "two-hours" is not a duration (e.g. 30m, 2h, 90d)`},
		{"session trusted origin", "session {\n\t\t\ttrusted_origins app.example.com\n\t\t}", `session: trusted origin "app.example.com" must look like https://app.example.com`},
		{"throttle duration", "throttle {\n\t\t\twindow soon\n\t\t}", `throttle: window must be a positive duration, not "soon"`},
	})
}

// TestBadConfigFailsAtLoad checks the mistakes that only loading can find
// (the files the config names): loading fails, saying what to do.
func TestBadConfigFailsAtLoad(t *testing.T) {
	assertLoadErrors(t, []configCase{
		{"users_file missing", "users_file /nonexistent/users.json", "reading users_file: open /nonexistent/users.json"},
		{"users_file invalid JSON", "users_file " + testdataPath(t, "users_invalid.json"), "users_invalid.json: invalid JSON"},
		{"user in users_file too", "user alice " + aliceHash + "\n\t\tusers_file " + testdataPath(t, "users.json"),
			`user "alice" is defined both by a ` + "`user`" + ` line and in users_file ` + testdataPath(t, "users.json") + `; remove one of them`},
	})
}
