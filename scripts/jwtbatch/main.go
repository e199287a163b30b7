// Command jwtbatch writes a batch of HS256 JWTs that a rest_auth Caddy
// accepts and has never seen, for scripts/bench-http.sh: copies of a token
// that Caddy issued (POST /@login), each with a new random jti and signed
// again with the HS256 secret in $RESTAUTH_JWT_SECRET. The header is the
// template's, byte for byte, so the kid is the key's RFC 7638 thumbprint as
// the server computes it; sub, roles, iat and exp are the template's.
//
//	RESTAUTH_JWT_SECRET=... jwtbatch -template <token> -n 400000 -files 2 -out /tmp/tokens
//
// writes /tmp/tokens.1 … /tmp/tokens.<files>, the tokens dealt round-robin,
// one header value ("Bearer <token>") a line: one file for each wrk thread
// of scripts/lib/wrk_header_lines.lua.
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	template := flag.String("template", "", "a token the rest_auth Caddy issued with the secret of $RESTAUTH_JWT_SECRET")
	n := flag.Int("n", 0, "how many tokens to write")
	files := flag.Int("files", 1, "how many files to deal them into")
	out := flag.String("out", "", "the files' path; .1, .2, … is appended")
	prefix := flag.String("prefix", "Bearer ", "written before each token")
	flag.Parse()
	if *template == "" || *n <= 0 || *files <= 0 || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	secret := os.Getenv("RESTAUTH_JWT_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "jwtbatch: set RESTAUTH_JWT_SECRET to the hs256 key of the Caddyfile")
		os.Exit(2)
	}
	b, err := newBatch(*template, []byte(secret))
	if err == nil {
		err = b.write(*out, *files, *n, *prefix)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jwtbatch:", err)
		os.Exit(1)
	}
}

// batch makes tokens like its template: the template's header segment and
// its claims around the jti value.
type batch struct {
	header        string // base64url, as in the template
	before, after []byte // the claims JSON before and after the jti value
	secret        []byte
}

var b64 = base64.RawURLEncoding

func newBatch(template string, secret []byte) (*batch, error) {
	parts := strings.Split(template, ".")
	if len(parts) != 3 {
		return nil, errors.New("the template is not a compact JWS (header.claims.signature)")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if _, err := decodeSegment(parts[0], "header", &header); err != nil {
		return nil, err
	}
	if header.Alg != "HS256" {
		return nil, fmt.Errorf("the template is %s, want HS256: configure `key hs256 {env.RESTAUTH_JWT_SECRET}` first in jwt", header.Alg)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("decoding the template's signature: %w", err)
	}
	b := &batch{header: parts[0], secret: secret}
	if !hmac.Equal(sig, b.sign(parts[0]+"."+parts[1])) {
		return nil, errors.New("the template's signature does not match $RESTAUTH_JWT_SECRET: is it the Caddyfile's first key?")
	}
	var id struct {
		JTI string `json:"jti"`
	}
	claims, err := decodeSegment(parts[1], "claims", &id)
	if err != nil {
		return nil, err
	}
	member := []byte(`"jti":"` + id.JTI + `"`)
	if id.JTI == "" || bytes.Count(claims, member) != 1 {
		return nil, errors.New(`the template's claims have no single "jti":"…" member to replace`)
	}
	i := bytes.Index(claims, member)
	b.before = claims[:i+len(`"jti":"`)]
	b.after = claims[i+len(member)-1:]
	return b, nil
}

// decodeSegment base64url-decodes a segment of the template and reads its
// JSON into v; it returns the JSON.
func decodeSegment(segment, what string, v any) ([]byte, error) {
	data, err := b64.DecodeString(segment)
	if err != nil {
		return nil, fmt.Errorf("decoding the template's %s: %w", what, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("reading the template's %s: %w", what, err)
	}
	return data, nil
}

func (b *batch) sign(signingInput string) []byte {
	mac := hmac.New(sha256.New, b.secret)
	mac.Write([]byte(signingInput))
	return mac.Sum(nil)
}

// token makes a token with a new random jti of 128 bits, as rest_auth's own.
func (b *batch) token() (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("generating a jti: %w", err)
	}
	claims := make([]byte, 0, len(b.before)+22+len(b.after))
	claims = append(claims, b.before...)
	claims = b64.AppendEncode(claims, jti[:])
	claims = append(claims, b.after...)
	input := b.header + "." + b64.EncodeToString(claims)
	return input + "." + b64.EncodeToString(b.sign(input)), nil
}

// write deals n tokens round-robin into out.1 … out.<files>.
func (b *batch) write(out string, files, n int, prefix string) error {
	fs := make([]*os.File, files)
	writers := make([]*bufio.Writer, files)
	for i := range fs {
		f, err := os.Create(fmt.Sprintf("%s.%d", out, i+1))
		if err != nil {
			return fmt.Errorf("creating a token file: %w", err)
		}
		defer f.Close() // a second Close after the one below only returns an error
		fs[i], writers[i] = f, bufio.NewWriterSize(f, 1<<20)
	}
	for i := range n {
		t, err := b.token()
		if err != nil {
			return err
		}
		w := writers[i%files]
		w.WriteString(prefix)
		w.WriteString(t)
		w.WriteByte('\n')
	}
	for i, w := range writers {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing a token file: %w", err)
		}
		if err := fs[i].Close(); err != nil {
			return fmt.Errorf("closing a token file: %w", err)
		}
	}
	return nil
}
