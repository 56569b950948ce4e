package infer

import (
	"runtime"
	"sync/atomic"

	"github.com/stratusml/stratus/model"
)

// phase is a set of n work units that workers claim one at a time. Whoever
// finishes the last unit closes done, which releases the waiters.
type phase struct {
	n    int32
	next atomic.Int32
	left atomic.Int32
	done chan struct{}
}

func newPhase(n int) *phase {
	p := &phase{n: int32(n), done: make(chan struct{})}
	p.left.Store(int32(n))
	return p
}

// claim returns the next unclaimed unit, or false when none is left.
func (p *phase) claim() (int, bool) {
	i := p.next.Add(1) - 1
	return int(i), i < p.n
}

// finish marks one claimed unit done.
func (p *phase) finish() {
	if p.left.Add(-1) == 0 {
		close(p.done)
	}
}

// wait returns once every unit is done. The units of a single image take
// microseconds, so it yields for a while before it blocks.
func (p *phase) wait(spins int) {
	for range spins {
		if p.left.Load() == 0 {
			return
		}
		runtime.Gosched()
	}
	<-p.done
}

// minGroup is the group size below which batch stops cutting a worker's
// share into more groups: smaller groups make the dense layers less
// efficient and reload their weights more often.
const minGroup = 12

// batch runs count ≥ 1 images. They are cut into equal groups of at most
// maxGroup images, the same number (up to four) for each worker, and each
// worker claims groups in turn and runs the whole network on them. A worker
// that starts late or is descheduled leaves its groups to the others.
func (n *Net) batch(x []float32, count int, out []float32) {
	w := min(n.workers, count)
	perWorker := (count + w - 1) / w
	perWorkerGroups := max((perWorker+maxGroup-1)/maxGroup, min(4, perWorker/minGroup))
	groups := min(count, w*perWorkerGroups)
	ph := newPhase(groups)
	work := func() {
		var s *scratch
		for {
			g, ok := ph.claim()
			if !ok {
				break
			}
			if s == nil {
				s = n.pool.Get().(*scratch)
			}
			lo, hi := g*count/groups, (g+1)*count/groups
			n.group(s, x[lo*model.Pixels:hi*model.Pixels], hi-lo, out[lo*model.Classes:hi*model.Classes])
			ph.finish()
		}
		if s != nil {
			n.pool.Put(s)
		}
	}
	for range w - 1 {
		go work()
	}
	work()
	ph.wait(0)
}

// single runs one image x on all workers by splitting the layers: pairs of
// rows of the first block, the (panel, row) units of the second, then the
// column panels of the dense layers, each of which also yields a partial fc2
// sum. Workers claim units as they go, so one that starts late (or is
// descheduled) leaves its share to the others.
func (n *Net) single(x, out []float32) {
	s := n.pool.Get().(*scratch)
	loadImage(s.grid1, x)
	flat := s.flat[:model.Flat]
	const rowsPerUnit = 2 // a pooled row of block 1 is too little work to claim alone
	b1 := newPhase(model.Pool1Side / rowsPerUnit)
	b2 := newPhase(conv2Panels * model.Pool2Side)
	fc := newPhase(fc1Panels)
	// work runs units until none is left; local holds the worker's own
	// conv outputs. A worker that starts late finds every unit claimed and
	// touches nothing but the phases.
	const spins = 200
	work := func(local *scratch) {
		for u, ok := b1.claim(); ok; u, ok = b1.claim() {
			for py := u * rowsPerUnit; py < (u+1)*rowsPerUnit; py++ {
				n.block1Row(s.grid1, local.out1, s.grid2, py)
			}
			b1.finish()
		}
		b1.wait(spins)
		for u, ok := b2.claim(); ok; u, ok = b2.claim() {
			n.block2Unit(s.grid2, local.out2, flat, u/model.Pool2Side, u%model.Pool2Side)
			b2.finish()
		}
		b2.wait(spins)
		for p, ok := fc.claim(); ok; p, ok = fc.claim() {
			cols := s.hid[p*tileCols : (p+1)*tileCols]
			n.k.row1x16(flat, model.Flat, n.w.fc1[p*model.Flat*tileCols:(p+1)*model.Flat*tileCols], cols)
			biasRelu(cols, n.w.fc1b[p*tileCols:])
			n.k.row1x16(cols, tileCols, n.w.fc2[p*tileCols*fc2Cols:], s.lg[p*fc2Cols:])
			fc.finish()
		}
	}
	for range n.workers - 1 {
		go func() {
			local := n.pool.Get().(*scratch)
			work(local)
			n.pool.Put(local)
		}()
	}
	work(s)
	fc.wait(spins)
	for j, b := range n.w.fc2b {
		sum := b
		for p := range fc1Panels {
			sum += s.lg[p*fc2Cols+j]
		}
		out[j] = sum
	}
	n.pool.Put(s)
}
