package restauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

// TestPlaceholders: the {http.auth.user.*} placeholders name the
// authenticated identity (a JWT's own id included), whatever was set
// under those names earlier in the route, and whether one or two
// rest_auth blocks handle the request.
func TestPlaceholders(t *testing.T) {
	newHandler := func() *Handler {
		h := &Handler{
			Users:             []identity.User{{Name: "alice", PasswordHash: testusers.AliceHash, Roles: []string{"editor", "member"}}},
			AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"basic"}`), json.RawMessage(`{"method":"jwt","keys":[{"algorithm":"hs256","secret":"0123456789abcdef0123456789abcdef-test"}]}`)},
		}
		provisionHandler(t, h)
		return h
	}
	first, second := newHandler(), newHandler()
	acct, _ := first.users.Lookup("alice")
	token, _, err := first.endpoints.JWT().Issue(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ID string `json:"jti"`
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.ID == "" {
		t.Fatalf("the token's jti: %v", err)
	}
	jti := claims.ID
	tests := []struct {
		name          string
		authorization string
		earlier       map[string]any // set on the replacer before rest_auth
		blocks        []*Handler
		want          map[string]string
	}{
		{"basic", testusers.BasicHeader("alice", testusers.AlicePassword), nil, []*Handler{first},
			map[string]string{"id": "alice", "roles": "editor,member", "method": "basic", "token_id": ""}},
		{"jwt", "Bearer " + token, nil, []*Handler{first},
			map[string]string{"id": "alice", "roles": "editor,member", "method": "jwt", "token_id": jti}},
		{"set earlier", testusers.BasicHeader("alice", testusers.AlicePassword),
			map[string]any{"http.auth.user.id": "mallory", "http.auth.user.roles": "admin"}, []*Handler{first},
			map[string]string{"id": "alice", "roles": "editor,member", "method": "basic"}},
		{"two blocks", "Bearer " + token, nil, []*Handler{first, second},
			map[string]string{"id": "alice", "roles": "editor,member", "method": "jwt", "token_id": jti}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := benchRequest(http.Header{"Authorization": {tt.authorization}})
			repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			for k, v := range tt.earlier {
				repl.Set(k, v)
			}
			for i, h := range tt.blocks {
				w := httptest.NewRecorder()
				if err := h.ServeHTTP(w, r, noopNext); err != nil || w.Code != 200 {
					t.Fatalf("block %d: status %d, err %v, body %s", i, w.Code, err, w.Body)
				}
			}
			for name, want := range tt.want {
				if got, ok := repl.GetString("http.auth.user." + name); !ok || got != want {
					t.Errorf("{http.auth.user.%s} = %q (known: %v), want %q", name, got, ok, want)
				}
			}
		})
	}
}
