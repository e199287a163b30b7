# The Keystone seed's Python flow, as written, with the URLs changed:
# BASE is the Caddy under test; /authentication/login/ is @session.
import sys

import requests

BASE = sys.argv[1]
credentials = {"username": "alice", "password": "alice-password"}

# Session objects will automatically store and manage authentication cookies
session = requests.Session()
auth_response = session.post(url=BASE + "/@session", data=credentials)

auth_response.raise_for_status()
print(auth_response.cookies)

# Read operations only require session cookies
get_response = session.get(url=BASE + "/users/users/")
get_response.raise_for_status()
print(get_response.text)

# Write operations require CSRF headers and session cookies
patch_response = session.patch(
    url=BASE + "/users/users/1",
    headers={"X-CSRFToken": session.cookies["csrftoken"]})

patch_response.raise_for_status()
print(patch_response.text)

logout_request = session.post(
    url=BASE + "/@logout",
    headers={"X-CSRFToken": session.cookies["csrftoken"]})

logout_request.raise_for_status()
old = auth_response.cookies["sessionid"]
after = requests.get(BASE + "/users/users/", cookies={"sessionid": old})
print("after logout:", after.status_code)
assert after.status_code == 401, after.status_code
print("KEYSTONE PYTHON FLOW OK")
