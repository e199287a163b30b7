#!/usr/bin/env bash
# The Keystone seed's curl flow, as written, with the URLs changed: $1 is
# the Caddy under test; /authentication/login/ is @session.
set -euo pipefail
BASE=$1
cd "$(mktemp -d)"

credentials='{"username": "alice", "password": "alice-password"}'
headers='Content-Type: application/json'

curl -s -f -X POST \
  -c cookies.txt \
  -H "$headers" \
  -d "$credentials" \
  "$BASE/@session"

cat cookies.txt

# Read operations only require session cookies
get_response=$(curl -s -f -b cookies.txt "$BASE/users/users/")
echo "$get_response"

# Write operations require CSRF headers and session cookies
csrf_token=$(grep 'csrftoken' cookies.txt | awk '{print $7}')
patch_response=$(curl -s -f -X PATCH \
  -b cookies.txt \
  -H "X-CSRFToken: $csrf_token" \
  "$BASE/users/users/1")

echo "$patch_response"

logout_response=$(curl -s -f -X POST \
  -b cookies.txt \
  -H "X-CSRFToken: $csrf_token" \
  "$BASE/@logout")

echo "$logout_response"

status=$(curl -s -o /dev/null -w '%{http_code}' -b cookies.txt "$BASE/users/users/")
echo "after logout: $status"
test "$status" = 401
echo "KEYSTONE CURL FLOW OK"
