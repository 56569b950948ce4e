package frontend

import (
	"bytes"
	"encoding/base64"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
	"github.com/stratusml/stratus/model/preprocess"
)

// limiter is a token bucket per client address, in work units (see
// preprocess.PictureWork and preprocess.StrokesWork): one unit is an
// ordinary drawing, a large picture costs tens. A request is let in when
// its client's bucket holds at least one unit, which it takes (allow);
// once its body is read it pays at once the rest of the price quoted from
// the body before decoding it (admit, quote: from the picture's header,
// or the body's size), so that requests sent together cannot all pass
// before the first is paid for; once decoded, the price is settled to its
// exact cost (settle). A bucket may go below zero (an expensive
// request admitted with a unit left): the client then waits until it is
// back above one unit, so that it gets at most its rate of work, however
// it spends it. Buckets of clients that have been quiet for a while are
// forgotten.
type limiter struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
}

// clientBucket is one client's units: at most burst, refilled at
// perSecond since at, below zero while it pays for an expensive request.
type clientBucket struct {
	tokens float64
	at     time.Time
}

// forgetAfter is how long a quiet client's bucket is kept.
const forgetAfter = 5 * time.Minute

// newLimiter limits each client to perSecond work units a second with
// bursts of burst units (default 2×perSecond); perSecond ≤ 0 lets
// everything through.
func newLimiter(perSecond float64, burst int) *limiter {
	if burst <= 0 {
		burst = max(int(2*perSecond), 1)
	}
	return &limiter{perSecond: perSecond, burst: float64(burst), now: time.Now, clients: map[string]*clientBucket{}}
}

// allow takes the first unit of a request from client's bucket, if it
// holds one, before the request's body is read: a client in debt is
// refused at once.
func (l *limiter) allow(client string) bool {
	return l.take(client, 1, 1)
}

// take takes units from client's bucket if it holds at least atLeast, and
// reports whether it did.
func (l *limiter) take(client string, units int, atLeast float64) bool {
	if l.perSecond <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(client)
	if b.tokens < atLeast {
		return false
	}
	b.tokens -= float64(units)
	return true
}

// charge takes units from client's bucket, even below zero; negative
// units give them back.
func (l *limiter) charge(client string, units int) {
	if l.perSecond <= 0 || units == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(client)
	b.tokens = min(l.burst, b.tokens-float64(units))
}

// bucket returns client's bucket brought up to date (l.mu held),
// forgetting the buckets of clients quiet for forgetAfter, once a minute.
func (l *limiter) bucket(client string) *clientBucket {
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.clients {
			if now.Sub(b.at) > forgetAfter {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	b := l.clients[client]
	if b == nil {
		b = &clientBucket{tokens: l.burst, at: now}
		l.clients[client] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSecond)
		b.at = now
	}
	return b
}

// bill is an admitted request's account: what it paid, its first unit
// included.
type bill struct {
	l      *limiter
	client string
	body   []byte
	paid   int
}

// admit admits a request of client, allowed already, whose body has been
// read: it takes the rest of the price that quote gives for body, unless
// the bucket went below zero since the request was allowed (requests sent
// together by the same client).
func (l *limiter) admit(client string, body []byte) (bill, bool) {
	b := bill{l: l, client: client, body: body, paid: quote(body)}
	return b, l.take(client, b.paid-1, 0)
}

// allowBody is allow and admit together, for a request whose body is read
// before it is let in (a WebSocket message).
func (l *limiter) allowBody(client string, body []byte) (bill, bool) {
	if !l.allow(client) {
		return bill{}, false
	}
	return l.admit(client, body)
}

// settle charges, or gives back, the difference between the request's
// cost, its event (ev) decoded or not, and what it paid.
func (b bill) settle(ev *message.CanvasEvent) {
	b.l.charge(b.client, requestCost(b.body, ev)-b.paid)
}

// bodyByteNs is what a byte of a request body costs the frontend to read
// as a CanvasEvent (JSON, base64): 8 ns, measured with
// message.DecodeCanvasEvent on the development machine (a 2.8 MB body,
// a 2 MiB picture, takes 22 ms).
const bodyByteNs = 8

// requestCost is what a request costs in work units, at least 1: its
// event's work (preprocess.PictureWork, preprocess.StrokesWork), from
// the picture's header or the strokes, both read already; and at least
// the reading of its body, which a request that is refused has cost too.
func requestCost(body []byte, ev *message.CanvasEvent) int {
	cost := bodyCost(len(body))
	switch {
	case len(ev.ImagePNG) > 0:
		if info, err := drawing.ReadPNGInfo(ev.ImagePNG, drawing.DefaultLimits()); err == nil {
			cost = max(cost, preprocess.PictureWork(info))
		}
	case len(ev.Strokes) > 0:
		cost = max(cost, preprocess.StrokesWork(ev.Strokes))
	}
	return cost
}

// bodyCost is the work of reading a body of n bytes, at least 1.
func bodyCost(n int) int {
	return max(1, int(math.Ceil(float64(n)*bodyByteNs/1e6)))
}

// pngBase64 starts the base64 of every PNG file (its signature).
const pngBase64 = "iVBORw0KGgo"

// maxStrokesBody bounds the body of an event of strokes: their JSON limit
// and room for the rest of the event.
const maxStrokesBody = 80 << 10

// quote prices a request from its body before the body is decoded, as
// requestCost will once it is, or more: each picture in it by the header
// at the start of its base64 (a PNG's base64 starts with pngBase64); a
// body without one as strokes with as many points and strokes as it has
// objects and arrays, when it is small enough to be strokes, and as the
// costliest picture its size can hold otherwise, or when it holds a JSON
// escape, which could hide a picture from this look.
func quote(body []byte) int {
	worst := worstQuote(len(body))
	if bytes.IndexByte(body, '\\') >= 0 {
		return worst
	}
	price, pictures := bodyCost(len(body)), 0
	for rest := body; ; pictures++ {
		i := bytes.Index(rest, []byte(pngBase64))
		if i < 0 {
			break
		}
		b64 := rest[i:]
		if end := bytes.IndexByte(b64, '"'); end >= 0 {
			b64 = b64[:end]
		}
		rest = rest[i+len(b64):]
		w, ok := quotePicture(b64)
		if !ok {
			return worst
		}
		price = max(price, w)
	}
	if pictures > 0 {
		return price
	}
	if len(body) > maxStrokesBody {
		return worst
	}
	// Strokes: every point is an object and every stroke an array, in
	// the event's object and its array of strokes.
	points, strokes := bytes.Count(body, []byte("{"))-1, bytes.Count(body, []byte("["))-1
	return max(price, preprocess.PointsWork(max(points, 0), max(strokes, 0)))
}

// quotePicture is the work of the picture whose base64 is b64, from its
// header, the signature and IHDR chunk that its first 33 bytes must be;
// false when they are not.
func quotePicture(b64 []byte) (int, bool) {
	head := make([]byte, 33)
	n, _ := base64.StdEncoding.Decode(head, b64[:min(len(b64), 44)])
	info, err := drawing.ReadPNGInfo(head[:n], drawing.DefaultLimits())
	if err != nil {
		return 0, false
	}
	info.Bytes = base64.StdEncoding.DecodedLen(len(b64))
	return preprocess.PictureWork(info), true
}

// worstQuote is the work of the costliest picture a body of n bytes can
// carry: as many pixels of 8-bit RGBA as the limits allow, in a file of
// three quarters of the body.
func worstQuote(n int) int {
	lim := drawing.DefaultLimits()
	info := drawing.PNGInfo{Width: lim.MaxPixels, Height: 1, BitsPerPixel: 32, Bytes: min(n*3/4, lim.MaxPNGBytes)}
	return max(bodyCost(n), preprocess.PictureWork(info))
}

// refuseRate answers a request refused by the rate limit.
func (s *Server) refuseRate(w http.ResponseWriter) {
	s.metrics.rateLimited.Inc()
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, "too many predictions from this client; slow down")
}
