package authenticators

import "github.com/caddy-restauth/caddy-restauth/identity"

// AdminAPI is the caller of what is done through Caddy's admin endpoint
// (admin.api.rest_auth): it manages every user's tokens, and the audit
// log names it `admin_api`.
var AdminAPI = &identity.Identity{User: "admin_api"}
