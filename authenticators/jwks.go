package authenticators

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/cache"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

const (
	// minRSABits: shorter RSA keys of a JWKS are refused.
	minRSABits = 2048
	// maxProviderResponse bounds a discovery document or JWKS.
	maxProviderResponse = 1 << 20
	// providerTimeout bounds one fetch from the provider.
	providerTimeout = 10 * time.Second
	// downRetryInterval: while no key was ever fetched, a fetch is tried
	// at most this often (in the background, or by a request).
	downRetryInterval = time.Second
)

// trustedIssuer is a trust block at work: the provider's current keys,
// fetched at load and refreshed in the background.
type trustedIssuer struct {
	cfg           JWTTrust
	usersRequired bool
	leeway        time.Duration
	now           func() time.Time
	client        *http.Client
	logger        *zap.Logger

	// keys are the last keys fetched; nil until the first fetch succeeds.
	keys atomic.Pointer[jwksKeys]

	// mu serialises fetches; under it, the times of the last fetches.
	mu           sync.Mutex
	jwksURL      string // discovered or configured
	lastKidFetch time.Time
	lastTry      time.Time
	// tried is set once the first fetch has ended, well or not.
	tried atomic.Bool

	stop context.CancelFunc
	done chan struct{}
}

// jwksKeys is one generation of a provider's keys and the tokens they
// verified (a new JWKS starts with no verified token, so a key the
// provider withdrew stops working at once).
type jwksKeys struct {
	verifier *jwtVerifier
	verified *cache.BySecret[*identity.Identity]
}

// newTrustedIssuer prepares a trust block and starts fetching its keys in
// the background.
func newTrustedIssuer(cfg JWTTrust, leeway time.Duration, now func() time.Time, logger *zap.Logger) (*trustedIssuer, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: trust %s: reading ca_file: %w", cfg.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("jwt: trust %s: ca_file %s holds no PEM certificate", cfg.Name, cfg.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = caddy.Duration(defaultJWKSRefresh)
	}
	t := &trustedIssuer{
		cfg:           cfg,
		usersRequired: cfg.Users == "required",
		leeway:        leeway,
		now:           now,
		logger:        logger.With(zap.String("trust", cfg.Name), zap.String("issuer", cfg.Issuer)),
		jwksURL:       cfg.JWKSURL,
		done:          make(chan struct{}),
		client: &http.Client{
			Timeout:   providerTimeout,
			Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment},
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return checkProviderURL(req.URL.String())
			},
		},
	}
	ctx, stop := context.WithCancel(context.Background())
	t.stop = stop
	go t.run(ctx)
	return t, nil
}

// close stops the background refresh.
func (t *trustedIssuer) close() {
	t.stop()
	<-t.done
	t.client.CloseIdleConnections()
}

// run fetches the keys now, then every refresh interval (every second
// while none was ever fetched).
func (t *trustedIssuer) run(ctx context.Context) {
	defer close(t.done)
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		t.mu.Lock()
		err := t.fetch(ctx)
		t.mu.Unlock()
		wait = time.Duration(t.cfg.Refresh)
		if err != nil && t.keys.Load() == nil {
			wait = downRetryInterval
		}
	}
}

// current returns the keys, fetching them now when none was ever fetched
// (at most once a second): until then the provider's tokens get 503.
func (t *trustedIssuer) current(ctx context.Context) (*jwksKeys, error) {
	if keys := t.keys.Load(); keys != nil {
		return keys, nil
	}
	if t.tried.Load() {
		// The provider failed before: do not queue behind a fetch that
		// may hang until it times out.
		if !t.mu.TryLock() {
			return nil, keysUnavailable(t.cfg.Name)
		}
	} else {
		t.mu.Lock() // the first fetch is under way: wait for it
	}
	defer t.mu.Unlock()
	if keys := t.keys.Load(); keys != nil {
		return keys, nil
	}
	if time.Since(t.lastTry) >= downRetryInterval {
		_ = t.fetch(ctx)
	}
	if keys := t.keys.Load(); keys != nil {
		return keys, nil
	}
	return nil, keysUnavailable(t.cfg.Name)
}

// refetchForKid fetches the JWKS again for a token whose kid is unknown,
// at most once per kidRefetchInterval, and returns the keys to use.
func (t *trustedIssuer) refetchForKid(ctx context.Context, seen *jwksKeys) (*jwksKeys, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if keys := t.keys.Load(); keys != seen {
		return keys, nil // fetched meanwhile
	}
	if time.Since(t.lastKidFetch) < kidRefetchInterval {
		return seen, nil
	}
	t.lastKidFetch = time.Now()
	_ = t.fetch(ctx)
	return t.keys.Load(), nil
}

// fetch reads the JWKS (after discovery, when no jwks_url is configured)
// and makes its keys current. On failure the keys stay as they were.
// Called with t.mu held.
func (t *trustedIssuer) fetch(ctx context.Context) error {
	t.lastTry = time.Now()
	fetchCtx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	err := t.fetchKeys(fetchCtx)
	t.tried.Store(true)
	if err != nil && ctx.Err() == nil { // not when unloading or the request went away
		level := t.logger.Warn
		if t.keys.Load() != nil {
			level = t.logger.Info // the cached keys keep working
		}
		level("jwt: fetching the identity provider's keys failed", zap.Error(err), zap.Bool("have_keys", t.keys.Load() != nil))
	}
	return err
}

func (t *trustedIssuer) fetchKeys(ctx context.Context) error {
	if t.jwksURL == "" {
		u, err := t.discover(ctx)
		if err != nil {
			return err
		}
		t.jwksURL = u
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := t.getJSON(ctx, t.jwksURL, &doc); err != nil {
		t.jwksURL = t.cfg.JWKSURL // discover again next time
		return err
	}
	v := &jwtVerifier{
		byKid:     map[string]*jwtVerifyKey{},
		issuer:    t.cfg.Issuer,
		audiences: t.cfg.Audiences,
		leeway:    t.leeway,
		now:       t.now,
		external:  &externalClaims{userPath: claimPath(t.cfg.UserClaim, "sub"), rolesPath: claimPath(t.cfg.RolesClaim, "")},
	}
	twice := map[string]bool{}
	for _, raw := range doc.Keys {
		kid, key, err := parseJWK(raw, t.cfg.Algorithms)
		if err != nil {
			t.logger.Warn("jwt: a key of the identity provider is not used", zap.String("kid", kid), zap.Error(err))
			continue
		}
		if _, dup := v.byKid[kid]; dup {
			twice[kid] = true
		}
		v.byKid[kid] = key
	}
	for kid := range twice {
		t.logger.Warn("jwt: the identity provider lists a kid twice; neither key is used", zap.String("kid", kid))
		delete(v.byKid, kid)
	}
	if len(v.byKid) == 0 {
		return fmt.Errorf("the JWKS at %s has no usable key", t.jwksURL)
	}
	t.keys.Store(&jwksKeys{verifier: v, verified: cache.NewBySecretOnSecondSight[*identity.Identity](maxVerifiedTokens)})
	t.logger.Debug("jwt: identity provider keys fetched", zap.Int("keys", len(v.byKid)))
	return nil
}

// getJSON GETs url and decodes its JSON body into dst.
func (t *trustedIssuer) getJSON(ctx context.Context, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxProviderResponse {
		return fmt.Errorf("GET %s: response larger than %d bytes", url, maxProviderResponse)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// claimPath splits a dotted claim path; nil for none.
func claimPath(path, def string) []string {
	if path == "" {
		path = def
	}
	if path == "" {
		return nil
	}
	return strings.Split(path, ".")
}

// jwk is the members of a JSON Web Key (RFC 7517) we read.
type jwk struct {
	Kty, Kid, Alg, Use, Crv string
	N, E, X, Y              string
}

// parseJWK reads one public key of a JWKS and the algorithm it is used
// with: the algorithm comes from the key (its alg, else its type), never
// from a token. allowed restricts the algorithms (none: all of
// trustAlgorithms).
func parseJWK(raw json.RawMessage, allowed []string) (string, *jwtVerifyKey, error) {
	var k jwk
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", nil, fmt.Errorf("not a JWK: %w", err)
	}
	if k.Kid == "" {
		return "", nil, errors.New("the key has no kid")
	}
	if k.Use != "" && k.Use != "sig" {
		return k.Kid, nil, fmt.Errorf("the key is for %q, not signatures", k.Use)
	}
	if len(allowed) == 0 {
		allowed = trustAlgorithms
	}
	var alg string
	var key *jwtVerifyKey
	switch k.Kty {
	case "RSA":
		alg = cmp.Or(k.Alg, "RS256")
		if k.Alg == "" && !slices.Contains(allowed, "RS256") && slices.Contains(allowed, "PS256") {
			alg = "PS256"
		}
		if alg != "RS256" && alg != "PS256" {
			return k.Kid, nil, fmt.Errorf("an RSA key cannot be used with %q", alg)
		}
		n, err1 := jwtB64.DecodeString(k.N)
		e, err2 := jwtB64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return k.Kid, nil, errors.New("malformed RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits {
			return k.Kid, nil, fmt.Errorf("the RSA key has %d bits; at least %d are required", pub.N.BitLen(), minRSABits)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return k.Kid, nil, errors.New("malformed RSA key exponent")
		}
		key = &jwtVerifyKey{rsa: pub, pss: alg == "PS256"}
		if !key.pss {
			if prepared, err := newRS256Key(pub); err == nil {
				key.rs256 = prepared
			}
		}
	case "EC":
		alg = cmp.Or(k.Alg, "ES256")
		if alg != "ES256" || k.Crv != "P-256" {
			return k.Kid, nil, fmt.Errorf("an EC key on %q cannot be used with %q (want P-256, ES256)", k.Crv, alg)
		}
		x, err1 := jwtB64.DecodeString(k.X)
		y, err2 := jwtB64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return k.Kid, nil, errors.New("malformed EC key")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return k.Kid, nil, fmt.Errorf("malformed EC key: %w", err)
		}
		key = &jwtVerifyKey{ec: pub}
	case "OKP":
		alg = cmp.Or(k.Alg, "EdDSA")
		if alg != "EdDSA" || k.Crv != "Ed25519" {
			return k.Kid, nil, fmt.Errorf("an OKP key on %q cannot be used with %q (want Ed25519, EdDSA)", k.Crv, alg)
		}
		x, err := jwtB64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return k.Kid, nil, errors.New("malformed Ed25519 key")
		}
		key = &jwtVerifyKey{ed: ed25519.PublicKey(x)}
	default:
		return k.Kid, nil, fmt.Errorf("key type %q is not accepted (want RSA, EC or OKP)", k.Kty)
	}
	if !slices.Contains(allowed, alg) {
		return k.Kid, nil, fmt.Errorf("algorithm %s is not among the accepted algorithms", alg)
	}
	key.alg = alg
	return k.Kid, key, nil
}
