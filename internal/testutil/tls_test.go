package testutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// TestWriteKeyPair: the files load as the key pair they were written from
// (net/http's ServeTLS loads them this way), and the pool trusts it.
func TestWriteKeyPair(t *testing.T) {
	cert, pool := SelfSigned(t)
	certFile, keyFile := WriteKeyPair(t, t.TempDir(), cert)
	got, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Certificate[0], cert.Certificate[0]) {
		t.Error("loaded certificate differs from the one written")
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("pool does not trust the certificate: %v", err)
	}
}
