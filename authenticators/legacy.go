package authenticators

import (
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// plainHTTPWarning logs, at most once a minute per authenticator, that an
// insecure legacy method was used over plain HTTP (the credentials crossed
// the network in clear). It never logs the credential.
type plainHTTPWarning struct {
	method string
	logger *zap.Logger
	last   atomic.Int64 // Unix seconds of the last warning
}

func newPlainHTTPWarning(method string, logger *zap.Logger) *plainHTTPWarning {
	return &plainHTTPWarning{method: method, logger: logger}
}

func (p *plainHTTPWarning) check(r *http.Request) {
	if ArrivedOverTLS(r) {
		return
	}
	now := time.Now().Unix()
	last := p.last.Load()
	if now-last < 60 || !p.last.CompareAndSwap(last, now) {
		return
	}
	p.logger.Warn("credentials sent over plain HTTP with an insecure legacy method; require HTTPS (require_https) or switch clients to JWT or API tokens",
		zap.String("method", p.method), zap.String("remote_ip", ClientIP(r)))
}
