package handlers

import (
	"net/http"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/problem"
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
func (e *Endpoints) account(w http.ResponseWriter, r *http.Request, id *identity.Identity, rest string) {
	if rest != "" {
		problem.Write(w, http.StatusNotFound, "There is no such page.")
		return
	}
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if id == nil {
		if !e.RedirectToSignIn(w, r) {
			e.requireIdentity(w, id)
		}
		return
	}
	e.render(w, http.StatusOK, builtinPages.Lookup("account.html"), accountData{
		Title:      e.pages.title,
		User:       id.User,
		Roles:      id.Roles,
		Endpoints:  e.base,
		SignIn:     e.pages.signinPath,
		Stylesheet: e.pages.assetBase + "style.css",
		Script:     e.pages.assetBase + "account.js",
	})
}
