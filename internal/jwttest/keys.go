// Package jwttest writes throwaway JWT signing keys for tests.
package jwttest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// Keys are an Ed25519 and a P-256 key, written as PKCS#8 PEM files into
// the test's temporary directory.
type Keys struct {
	EdPath, ECPath string
	Ed             ed25519.PrivateKey
	EC             *ecdsa.PrivateKey
}

// WriteKeys generates the keys and writes their files.
func WriteKeys(t testing.TB) Keys {
	t.Helper()
	dir := t.TempDir()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := Keys{EdPath: filepath.Join(dir, "ed.pem"), ECPath: filepath.Join(dir, "ec.pem"), Ed: ed, EC: ec}
	for path, key := range map[string]any{k.EdPath: ed, k.ECPath: ec} {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return k
}
