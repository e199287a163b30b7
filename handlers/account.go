package handlers

import (
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// accountData is what the account page is executed with.
type accountData struct {
	Title      string
	User       string
	Roles      []string
	Endpoints  string // the endpoints' base, e.g. "/@", for the script
	SignIn     string // the sign-in page, where signing out goes
	Stylesheet string
	Script     string
}

// account serves GET @account: who the caller is, and (through
// account.js and the JSON endpoints) their API tokens and sign-out.
func (e *Endpoints) account(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) error {
	if rest != "" {
		return authenticators.NotFound("There is no such page.")
	}
	if err := allowMethods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	if id == nil {
		if e.RedirectToSignIn(w, r) {
			return nil
		}
		return requireIdentity(id)
	}
	prefix := mountPrefix(r)
	e.render(w, http.StatusOK, builtinPages.Lookup("account.html"), accountData{
		Title:      e.pages.title,
		User:       id.User,
		Roles:      id.Roles,
		Endpoints:  prefix + e.base,
		SignIn:     prefix + e.pages.signinPath,
		Stylesheet: prefix + e.pages.assetBase + "style.css",
		Script:     prefix + e.pages.assetBase + "account.js",
	})
	return nil
}
