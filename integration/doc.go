// Package integration holds the tests that need more than one package: a
// Caddy running in-process (harness_test.go, on free loopback ports, or
// the ports of RESTAUTH_TEST_PORTS="http,https,admin"), the built binary
// (process_test.go, for restarts and reloads), a redis-server, a browser or
// the seed flows. Behaviour of one package is tested beside that package.
//
// The package has no code of its own; its fixtures are in testdata/.
package integration
