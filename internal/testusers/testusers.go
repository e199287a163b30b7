// Package testusers holds the test users of integration/testdata/users.json:
// their passwords and hashes, shared by every package's tests.
package testusers

import "encoding/base64"

// Passwords of the users in integration/testdata/users.json.
const (
	AlicePassword = "alice-password" // roles editor, member
	BobPassword   = "bob-password"   // role viewer
	CarolPassword = "carol-password" // disabled
	DavePassword  = "dave-password"  // argon2id; roles admin, editor
)

// AliceHash is alice's bcrypt hash from integration/testdata/users.json.
const AliceHash = "$2a$10$42ttQUXvSCo88C1QJ/O36.i5jRP21E9c2fY4lqdm/BYUzzLAWDCfm"

// DaveHash is dave's argon2id hash from integration/testdata/users.json.
const DaveHash = "$argon2id$v=19$m=47104,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ccAORvH13I8YjkXWdyaZ1/PKY39jbLo19oqHa3T+lmk"

// BasicHeader is the Authorization value of HTTP Basic for user and password.
func BasicHeader(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}
