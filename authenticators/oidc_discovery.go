package authenticators

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// discover reads the provider's OpenID Connect discovery document
// (<issuer>/.well-known/openid-configuration) and returns its jwks_uri. The
// document must name the configured issuer (OpenID Connect Discovery 1.0
// §4.3), and its jwks_uri must be HTTPS.
func (t *trustedIssuer) discover(ctx context.Context) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	u := strings.TrimSuffix(t.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	if err := t.getJSON(ctx, u, &doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != t.cfg.Issuer {
		return "", fmt.Errorf("discovery: the document at %s names issuer %q, not %q", u, doc.Issuer, t.cfg.Issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery: the document at %s has no jwks_uri", u)
	}
	if err := checkProviderURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// checkProviderURL accepts an absolute HTTPS URL, or plain HTTP to a
// loopback address (for tests): keys fetched over plain HTTP could be
// replaced by anyone on the way.
func checkProviderURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New(raw + " is plain HTTP: the provider's keys must be fetched over HTTPS (plain HTTP only to a loopback address)")
	}
	return fmt.Errorf("%q is not an https:// URL", raw)
}
