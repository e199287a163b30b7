# shellcheck shell=bash
# Sourced by the benchmark scripts (from the repository root): credentials
# of alice, the test user of integration/testdata/users.json, from a running
# rest_auth Caddy on 127.0.0.1.
#
#   new_jwt PORT          # a token from POST /@login
#   new_token PORT        # an API token's key from POST /@tokens
#   new_session PORT      # a session id from POST /@session (the sessionid cookie)
#   basic_credentials     # "Basic base64(alice:password)"
#   restauth_site         # the site block of a Caddy that issues them all
#                         # (export_jwt_secret first: its JWT key, for every Caddy started after)

# alice's password, where the tests keep it.
alice_password=$(sed -n 's/.*AlicePassword *= *"\([^"]*\)".*/\1/p' internal/testusers/testusers.go | head -1)
if [[ -z $alice_password ]]; then
	echo "credentials.sh: AlicePassword not found in internal/testusers/testusers.go" >&2
	exit 1
fi

# alice_post PORT ENDPOINT [curl options...]: alice's name and password as
# JSON to an endpoint.
alice_post() {
	local port=$1 endpoint=$2
	shift 2
	curl -fsS -X POST "http://127.0.0.1:$port/$endpoint" -H 'Content-Type: application/json' \
		-d "{\"username\": \"alice\", \"password\": \"$alice_password\"}" "$@"
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

new_jwt() { alice_post "$1" @login | json_field token; }

new_token() { alice_post "$1" @tokens | json_field key; }

new_session() {
	alice_post "$1" @session -o /dev/null -D - | tr -d '\r' |
		sed -n 's/^[Ss]et-[Cc]ookie: sessionid=\([^;]*\).*/\1/p'
}

basic_credentials() { printf 'Basic %s' "$(printf 'alice:%s' "$alice_password" | base64 -w0)"; }

# export_jwt_secret: a random JWT key in $RESTAUTH_JWT_SECRET, exported for
# the Caddy processes restauth_site is used in.
export_jwt_secret() {
	RESTAUTH_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
	export RESTAUTH_JWT_SECRET
}

# restauth_site: the site block of the benchmarks' Caddy with rest_auth
# (its users, a JWT key from $RESTAUTH_JWT_SECRET, API tokens, sessions,
# bolt) in front of `respond "ok" 200`.
restauth_site() {
	cat <<SITE
	rest_auth {
		users_file $PWD/integration/testdata/users.json
		jwt {
			key hs256 {env.RESTAUTH_JWT_SECRET}
		}
		token
		session
		store bolt
	}
	respond "ok" 200
SITE
}
