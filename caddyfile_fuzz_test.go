package restauth

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// FuzzCaddyfile fuzzes the tokens of a rest_auth directive. Invariant: the
// unmarshal either fails with an error or yields JSON that round-trips:
// decoded into a new Handler and encoded again it is the same, and every
// authenticator and the store decode, strictly, into their own module and
// encode back to the same JSON.
func FuzzCaddyfile(f *testing.F) {
	matches, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.caddyfile"))
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		if i := strings.Index(string(data), "rest_auth"); i >= 0 {
			f.Add(string(data[i:]))
		}
	}
	for _, seed := range []string{
		"rest_auth",
		"rest_auth {\n\tuser alice $2a$14$x editor\n\tanonymous read\n}",
		"rest_auth {\n\torder url_params dotauth basic jwt tokens session\n\tdotauth {\n\t\theader X-Auth\n\t}\n}",
		"rest_auth {\n\tjwt {\n\t\tkey hs256 {env.SECRET}\n\t\tttl 1h\n\t\trevocation off\n\t\tcookie auth\n\t}\n}",
		"rest_auth {\n\ttoken {\n\t\tadmin_roles admin ops\n\t\tmax_ttl 365d\n\t}\n\tsession {\n\t\ttrusted_origins https://app.example.com\n\t}\n}",
		"rest_auth {\n\tthrottle off\n\tstore memory fuzz\n}",
		"rest_auth {\n\tthrottle {\n\t\tmax_failures 3\n\t\twindow 10m\n\t}\n\tstore bolt {\n\t\tpath /tmp/x.db\n\t}\n}",
		"rest_auth {\n\tstore redis localhost:6379\n\tendpoints /api\n\trequire_https\n\twrite_roles editor\n}",
		"rest_auth {\n\tbasic {\n\t\tchallenge\n\t\trealm api\n\t}\n\tbasic\n}",
		"rest_auth {\n\torder\n}",
		"rest_auth {\n\tjwt {\n\t\tkey\n\t}\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil {
			return
		}
		h := new(Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		first, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("the unmarshalled handler does not encode: %v", err)
		}
		var again Handler
		if err := caddy.StrictUnmarshalJSON(first, &again); err != nil {
			t.Fatalf("%s\ndoes not decode into a Handler: %v", first, err)
		}
		second, err := json.Marshal(&again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("JSON does not round-trip:\n%s\n%s", first, second)
		}
		for _, raw := range h.AuthenticatorsRaw {
			guestRoundTrip(t, raw, authenticators.Namespace, "method")
		}
		if h.StoreRaw != nil {
			guestRoundTrip(t, h.StoreRaw, store.Namespace, "backend")
		}
	})
}

// guestRoundTrip checks that raw, a guest module's JSON with its inline key,
// decodes strictly into the module it names and encodes back to raw.
func guestRoundTrip(t *testing.T, raw json.RawMessage, namespace, inlineKey string) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("%s is not a JSON object: %v", raw, err)
	}
	var name string
	if err := json.Unmarshal(fields[inlineKey], &name); err != nil {
		t.Fatalf("%s has no %s: %v", raw, inlineKey, err)
	}
	info, err := caddy.GetModule(namespace + "." + name)
	if err != nil {
		t.Fatalf("%s names an unknown module: %v", raw, err)
	}
	delete(fields, inlineKey)
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	mod := info.New()
	if err := caddy.StrictUnmarshalJSON(body, mod); err != nil {
		t.Fatalf("%s does not decode into %s: %v", raw, info.ID, err)
	}
	if again := caddyconfig.JSONModuleObject(mod, inlineKey, name, nil); !bytes.Equal(again, raw) {
		t.Fatalf("module JSON does not round-trip:\n%s\n%s", raw, again)
	}
}
