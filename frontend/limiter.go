package frontend

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per client address. Buckets of clients that
// have been quiet for a while are forgotten.
type limiter struct {
	perSecond rate.Limit
	burst     int

	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// forgetAfter is how long a quiet client's bucket is kept.
const forgetAfter = 5 * time.Minute

// newLimiter limits each client to perSecond with bursts of burst (default
// 2×perSecond); perSecond ≤ 0 lets everything through.
func newLimiter(perSecond float64, burst int) *limiter {
	if burst <= 0 {
		burst = max(int(2*perSecond), 1)
	}
	return &limiter{perSecond: rate.Limit(perSecond), burst: burst, clients: map[string]*clientBucket{}}
}

// allow takes a token from client's bucket.
func (l *limiter) allow(client string) bool {
	if l.perSecond <= 0 {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.clients {
			if now.Sub(b.seen) > forgetAfter {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	b := l.clients[client]
	if b == nil {
		b = &clientBucket{lim: rate.NewLimiter(l.perSecond, l.burst)}
		l.clients[client] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
