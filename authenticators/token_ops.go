package authenticators

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// maxTokenDescription bounds a token's description (NetBox: 200 characters).
const maxTokenDescription = 200

// maxExpirationDays bounds expiration_days so the expiry stays a sane date.
const maxExpirationDays = 100 * 365

// detailNoSuchToken is the detail of a 404 for an unknown token id.
const detailNoSuchToken = "No such token."

// TokenSpec is what a caller asks of a new API token. Roles nil means all
// of the owner's roles; Expires and ExpirationDays nil mean the default
// lifetime.
type TokenSpec struct {
	// Owner is the user the token acts for; OwnerRoles are the roles the
	// owner has, of which the token may carry any subset.
	Owner      string
	OwnerRoles []string
	// Roles requested for the token (nil: all of OwnerRoles).
	Roles          []string
	Description    string
	Expires        *time.Time
	ExpirationDays *int
	WriteEnabled   bool
	// AllowedIPs are CIDR networks or bare addresses (see ParseNetwork).
	AllowedIPs []string
}

// TokenInfo is a stored API token as its owner may see it: never the key.
type TokenInfo struct {
	ID           string
	Owner        string
	Display      string
	Created      time.Time
	Expires      *time.Time // nil: never
	LastUsed     *time.Time
	WriteEnabled bool
	AllowedIPs   []string
	Roles        []string
	Description  string
}

// TokenOps are the operations on API tokens the @tokens endpoints offer.
// The token authenticator implements them and owns the rules: lifetimes,
// roles, ownership and the effect of a revocation on its cache. Refusals
// are *Rejection errors; any other error is a store failure.
type TokenOps interface {
	// CreateToken stores a new token for spec.Owner and returns it with its
	// key, which is never shown again. by names the caller, for the log.
	CreateToken(ctx context.Context, by string, spec TokenSpec) (TokenInfo, string, error)
	// ListTokens lists owner's tokens ("": every token) as caller may see
	// them: only an admin lists other users' tokens.
	ListTokens(ctx context.Context, caller *identity.Identity, owner string) ([]TokenInfo, error)
	// GetToken returns the token id when caller owns it or is an admin.
	GetToken(ctx context.Context, caller *identity.Identity, id string) (TokenInfo, error)
	// RevokeToken deletes the token id when caller may manage it; no cached
	// copy is accepted afterwards.
	RevokeToken(ctx context.Context, caller *identity.Identity, id string) error
	// IsTokenAdmin reports whether caller manages every user's tokens.
	IsTokenAdmin(caller *identity.Identity) bool
	// TokenAdminRoles are the roles that manage every user's tokens.
	TokenAdminRoles() []string
}

// NewTokenKey generates a key and the hash to store it under. Its error
// wraps store.ErrUnavailable when the hashing secret cannot be read from
// the store.
func (t *Token) NewTokenKey(ctx context.Context) (NewKey, error) {
	if t.hasher == nil {
		return NewKey{}, errors.New("token: not bound to a store")
	}
	hasher, err := t.hasher.get(ctx)
	if err != nil {
		return NewKey{}, fmt.Errorf("token: %w", err)
	}
	return hasher.generate()
}

// TokenAdminRoles implements TokenOps.
func (t *Token) TokenAdminRoles() []string { return t.AdminRoles }

// IsTokenAdmin implements TokenOps.
func (t *Token) IsTokenAdmin(caller *identity.Identity) bool {
	return caller == AdminAPI || caller.HasAnyRole(t.AdminRoles)
}

// lifetimes are the lifetime of a token whose request names no expiry and
// the longest one allowed (zero: never, and unbounded). Without
// default_ttl, a bounded token lives as long as max_ttl allows.
func (t *Token) lifetimes() (defaultTTL, maxTTL time.Duration) {
	defaultTTL, maxTTL = time.Duration(t.DefaultTTL), time.Duration(t.MaxTTL)
	if defaultTTL == 0 {
		defaultTTL = maxTTL
	}
	return defaultTTL, maxTTL
}

// CreateToken implements TokenOps.
func (t *Token) CreateToken(ctx context.Context, by string, spec TokenSpec) (TokenInfo, string, error) {
	now := t.now().UTC()
	rec, err := t.newRecord(spec, now)
	if err != nil {
		return TokenInfo{}, "", err
	}
	key, err := t.NewTokenKey(ctx)
	if err != nil {
		return TokenInfo{}, "", err
	}
	rec.ID, rec.KeyHash, rec.Display = key.ID, key.Hash, key.Display
	if err := t.store.CreateToken(ctx, rec); err != nil {
		return TokenInfo{}, "", fmt.Errorf("creating token: %w", err)
	}
	t.logger.Info("API token created",
		zap.String("token_id", rec.ID), zap.String("user", rec.Owner), zap.String("by", by))
	t.audit.Event(EventTokenCreated, nil, rec.Owner, zap.String("token_id", rec.ID), zap.String("by", by))
	return t.info(rec), key.Key, nil
}

// newRecord checks spec and builds the record to store (without its key).
func (t *Token) newRecord(spec TokenSpec, now time.Time) (store.Token, error) {
	roles, err := tokenRoles(spec.Roles, spec.Owner, spec.OwnerRoles)
	if err != nil {
		return store.Token{}, err
	}
	expires, err := t.expiry(spec, now)
	if err != nil {
		return store.Token{}, err
	}
	if len([]rune(spec.Description)) > maxTokenDescription {
		return store.Token{}, BadRequest("description is longer than 200 characters.")
	}
	var networks []string
	for _, s := range spec.AllowedIPs {
		p, err := ParseNetwork(s)
		if err != nil {
			return store.Token{}, BadRequest("allowed_ips: " + err.Error() + ".")
		}
		if n := p.String(); !slices.Contains(networks, n) {
			networks = append(networks, n)
		}
	}
	return store.Token{
		Owner:        spec.Owner,
		Roles:        roles,
		Description:  spec.Description,
		Created:      now,
		Expires:      expires,
		WriteEnabled: spec.WriteEnabled,
		AllowedIPs:   networks,
	}, nil
}

// tokenRoles checks the requested roles against those the owner has.
// Without a request, the token gets all of them.
func tokenRoles(requested []string, owner string, available []string) ([]string, error) {
	if requested == nil {
		return slices.Clone(available), nil
	}
	roles := make([]string, 0, len(requested))
	for _, role := range requested {
		if !slices.Contains(available, role) {
			return nil, Forbidden("User " + strconv.Quote(owner) + " does not have the role " + strconv.Quote(role) +
				"; a token can only carry roles its user has.")
		}
		if !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	return roles, nil
}

// expiry computes the expiry from Expires or ExpirationDays, the default
// lifetime and max_ttl. nil means never.
func (t *Token) expiry(spec TokenSpec, now time.Time) (*time.Time, error) {
	if spec.Expires != nil && spec.ExpirationDays != nil {
		return nil, BadRequest("Give expires or expiration_days, not both.")
	}
	defaultTTL, maxTTL := t.lifetimes()
	var exp time.Time
	switch days := spec.ExpirationDays; {
	case spec.Expires != nil:
		exp = spec.Expires.UTC()
	case days != nil:
		if *days <= 0 || *days > maxExpirationDays {
			return nil, BadRequest("expiration_days must be a whole number of days from 1 to 36500.")
		}
		exp = now.AddDate(0, 0, *days)
	case defaultTTL > 0:
		exp = now.Add(defaultTTL)
	default:
		return nil, nil // never
	}
	if !exp.After(now) {
		return nil, BadRequest("The expiry is in the past.")
	}
	if maxTTL > 0 && exp.After(now.Add(maxTTL)) {
		return nil, BadRequest("The expiry is beyond the longest token lifetime allowed here (max_ttl): " +
			"at most " + now.Add(maxTTL).Format(time.RFC3339) + ".")
	}
	return &exp, nil
}

// ListTokens implements TokenOps.
func (t *Token) ListTokens(ctx context.Context, caller *identity.Identity, owner string) ([]TokenInfo, error) {
	if !t.IsTokenAdmin(caller) {
		if owner != "" && owner != caller.User {
			return nil, Forbidden("Only members of the token admin roles may list other users' tokens.")
		}
		owner = caller.User
	}
	recs, err := t.store.Tokens(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	infos := make([]TokenInfo, 0, len(recs))
	for _, rec := range recs {
		infos = append(infos, t.info(rec))
	}
	return infos, nil
}

// GetToken implements TokenOps.
func (t *Token) GetToken(ctx context.Context, caller *identity.Identity, id string) (TokenInfo, error) {
	rec, err := t.owned(ctx, caller, id)
	if err != nil {
		return TokenInfo{}, err
	}
	return t.info(rec), nil
}

// RevokeToken implements TokenOps. The revocation takes effect at once in
// every token authenticator of the process, since several rest_auth blocks
// may share one store.
func (t *Token) RevokeToken(ctx context.Context, caller *identity.Identity, id string) error {
	if caller.ReadOnly {
		return Forbidden("This credential is read-only.")
	}
	rec, err := t.owned(ctx, caller, id)
	if err != nil {
		return err
	}
	err = t.store.DeleteToken(ctx, rec.ID)
	if errors.Is(err, store.ErrNotFound) {
		return NotFound(detailNoSuchToken)
	}
	if err != nil {
		return fmt.Errorf("deleting token: %w", err)
	}
	ForgetCachedTokens()
	t.logger.Info("API token revoked",
		zap.String("token_id", rec.ID), zap.String("user", rec.Owner), zap.String("by", caller.User))
	t.audit.Event(EventTokenRevoked, nil, rec.Owner, zap.String("token_id", rec.ID), zap.String("by", caller.User))
	return nil
}

// owned reads the token id when caller may manage it: 404 when there is no
// such token, 403 when it belongs to another user and caller is not an
// admin.
func (t *Token) owned(ctx context.Context, caller *identity.Identity, id string) (store.Token, error) {
	rec, err := t.store.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, NotFound(detailNoSuchToken)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("reading token: %w", err)
	}
	if rec.Owner != caller.User && !t.IsTokenAdmin(caller) {
		return store.Token{}, Forbidden("This token belongs to another user; only its owner or a token admin may manage it.")
	}
	return rec, nil
}

// info is rec as TokenInfo, with a use this instance recorded but has not
// written to the store yet.
func (t *Token) info(rec store.Token) TokenInfo {
	if t.uses != nil {
		if used, ok := t.uses.lastUsed(rec.ID); ok && (rec.LastUsed == nil || used.After(*rec.LastUsed)) {
			rec.LastUsed = &used
		}
	}
	return TokenInfo{
		ID:           rec.ID,
		Owner:        rec.Owner,
		Display:      rec.Display,
		Created:      rec.Created,
		Expires:      rec.Expires,
		LastUsed:     rec.LastUsed,
		WriteEnabled: rec.WriteEnabled,
		AllowedIPs:   rec.AllowedIPs,
		Roles:        rec.Roles,
		Description:  rec.Description,
	}
}
