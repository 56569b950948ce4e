//go:build integration

package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/loadgen"
)

// TestHostileClientOnUp: on `stratus up` (the whole pipeline: Kafka,
// prism, the CNN, the store), one client sends the costliest pictures the
// limits allow on four connections, while another draws as people do (a
// drawing every 50 ms). The hostile client either sends at the full rate
// the limit allows (it waits the Retry-After of a 429) or floods (it does
// not wait). The ordinary client sees no error and the hostile one is
// rate-limited by the work it asks for. Both clients' latencies, alone and
// together, are logged for the notes (timing is not asserted).
func TestHostileClientOnUp(t *testing.T) {
	up := startUp(t, t.TempDir(), "--trust-proxy")
	url := up.url + "/api/v1/predict"
	ordinary := []byte(`{"mode":"digit","width":280,"height":280,"strokes":[[{"x":60,"y":60},{"x":220,"y":60},{"x":200,"y":110},{"x":160,"y":170},{"x":130,"y":240}]]}`)
	worst := worstPictureEvent(t)
	drawAs(url, "198.51.100.7", ordinary, 2*time.Second) // warm-up
	logStackCost(t, url, worst)
	for _, flood := range []bool{false, true} {
		t.Run(fmt.Sprintf("flood=%v", flood), func(t *testing.T) {
			hostileBeside(t, url, ordinary, worst, flood)
		})
	}
}

// hostileBeside measures the ordinary client alone, then beside the
// hostile one.
func hostileBeside(t *testing.T, url string, ordinary, worst []byte, flood bool) {
	alone := drawAs(url, "198.51.100.7", ordinary, 15*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	hostile := &latencyLog{codes: map[int]int{}}
	for range 4 { // four connections at once, each as fast as answers come
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code := hostile.post(url, "198.51.100.66", worst); code == http.StatusTooManyRequests && !flood {
					time.Sleep(time.Second) // its Retry-After
				}
			}
		}()
	}
	time.Sleep(time.Second)
	together := drawAs(url, "198.51.100.7", ordinary, 15*time.Second)
	close(stop)
	wg.Wait()

	t.Logf("ordinary alone:    %v", alone)
	t.Logf("ordinary together: %v", together)
	t.Logf("hostile:           %v", hostile)
	if p := alone.percentile(0.99); p > 0 {
		t.Logf("ordinary p99 together / alone: %.2f", float64(together.percentile(0.99))/float64(p))
	}
	for _, l := range []*latencyLog{alone, together} {
		if len(l.errs) > 0 || l.codes[http.StatusOK] == 0 || len(l.codes) != 1 {
			t.Errorf("the ordinary client saw errors: %v", l)
		}
	}
	if hostile.codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("the hostile client was never rate-limited: %v", hostile)
	}
}

// logStackCost logs the CPU time one costly picture takes in the whole
// stack (frontend, broker, pipeline, CNN, outbox, store: this process),
// sent alone, one after another, against what the rate limit charges for
// it: the figure that prices pictures (preprocess.PictureWork).
func logStackCost(t *testing.T, url string, event []byte) {
	const n = 20
	l := &latencyLog{codes: map[int]int{}}
	before := cpuTime(t)
	start := time.Now()
	for i := range n {
		l.post(url, fmt.Sprintf("198.51.100.%d", 100+i), event) // a fresh client each: never rate-limited
	}
	took := time.Since(start)
	spent := cpuTime(t) - before
	t.Logf("one costly picture alone: %v CPU in the whole stack (%d sent, %v, %v)", spent/n, n, took.Round(time.Millisecond), l)
}

// cpuTime is the CPU time this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// worstPictureEvent is a number-mode event with the costliest picture the
// limits let through: the whole pixel budget in 8-bit RGBA, holding a
// 20×20 grid of ink squares (400 pieces, the costliest content known).
func worstPictureEvent(t *testing.T) []byte {
	t.Helper()
	lim := drawing.DefaultLimits()
	side := int(math.Sqrt(float64(lim.MaxPixels)))
	step := side / 21
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	ink, paper := color.RGBA{20, 30, 140, 255}, color.RGBA{255, 255, 255, 255}
	for y := range side {
		for x := range side {
			c := paper
			if x >= step && y >= step && x%step < step/4 && y%step < step/3 {
				c = ink
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if _, err := drawing.ReadPNGInfo(b.Bytes(), lim); err != nil {
		t.Fatalf("the worst picture is over the limits: %v", err)
	}
	return []byte(`{"mode":"number","image_png":"` + base64.StdEncoding.EncodeToString(b.Bytes()) + `"}`)
}

// drawAs sends body as client addr every 50 ms for d, without waiting for
// earlier answers, and returns once all are answered.
func drawAs(url, addr string, body []byte, d time.Duration) *latencyLog {
	l := &latencyLog{codes: map[int]int{}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.post(url, addr, body)
		}()
	}
	wg.Wait()
	return l
}

// latencyLog is what one client saw.
type latencyLog struct {
	mu    sync.Mutex
	codes map[int]int
	errs  []string
	lat   []time.Duration
}

// post sends body as client addr (X-Forwarded-For), logs the answer and
// returns its status (0: no answer).
func (l *latencyLog) post(url, addr string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	l.codes[res.StatusCode]++
	if res.StatusCode == http.StatusOK {
		l.lat = append(l.lat, time.Since(start))
	}
	return res.StatusCode
}

// percentile is the p-th percentile (0..1) of the latencies of the
// requests answered 200.
func (l *latencyLog) percentile(p float64) time.Duration {
	l.mu.Lock()
	s := slices.Clone(l.lat)
	l.mu.Unlock()
	slices.Sort(s)
	return loadgen.Percentile(s, 100*p)
}

func (l *latencyLog) String() string {
	return fmt.Sprintf("statuses %v, %d transport errors, p50 %v, p99 %v",
		l.codes, len(l.errs), l.percentile(0.5).Round(time.Microsecond), l.percentile(0.99).Round(time.Microsecond))
}
