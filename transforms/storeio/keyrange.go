package storeio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*KeyRange)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*KeyRangeTracker)(nil)))
	register.Function1x2(encodeKeyRange)
	register.Function1x2(decodeKeyRange)
	beam.RegisterCoder(reflect.TypeOf((*KeyRange)(nil)).Elem(), encodeKeyRange, decodeKeyRange)
}

// KeyRange is a restriction over string keys (document ids) compared as
// byte strings, the order of CouchDB's _all_docs: [Start, End). An empty
// End leaves the range open above; a range with End ≤ Start (End not
// empty) is empty.
type KeyRange struct {
	Start, End string
}

// emptyRange is a canonical empty range.
var emptyRange = KeyRange{Start: "\x00", End: "\x00"}

// IsEmpty reports whether no key is in r.
func (r KeyRange) IsEmpty() bool { return r.End != "" && r.Start >= r.End }

// Contains reports whether key is in r.
func (r KeyRange) Contains(key string) bool {
	return key >= r.Start && (r.End == "" || key < r.End)
}

func (r KeyRange) String() string {
	end := fmt.Sprintf("%q", r.End)
	if r.End == "" {
		end = "∞"
	}
	return fmt.Sprintf("[%q, %s)", r.Start, end)
}

// Key positions. A key is read as a fraction of the key space: its bytes,
// as digits of an alphabet, are the digits of a number after the point.
// The alphabet is the smallest of hex (UUIDs), Crockford base32 (ULIDs),
// both, or ASCII that holds every byte of the range's ends (NUL bytes
// aside), so that ranges of ULIDs or of UUIDs split into parts that hold
// about the same number of ids, not parts of a byte space that ids leave
// mostly empty. A byte outside the alphabet counts as the largest alphabet
// character not above it, so keys in byte order have non-decreasing
// positions. The arithmetic is exact (math/big): ranges that share a long
// prefix still split evenly. Split points are made of alphabet characters,
// always ASCII, so they are valid UTF-8 and survive the JSON of a CouchDB
// query; each is checked to lie strictly inside the range it splits.
type alphabet struct {
	chars string    // ascending
	digit [256]byte // floor rank of each byte
	base  *big.Int
}

func newAlphabet(chars string) *alphabet {
	a := &alphabet{chars: chars, base: big.NewInt(int64(len(chars)))}
	r := 0
	for c := range 256 {
		for r+1 < len(chars) && int(chars[r+1]) <= c {
			r++
		}
		a.digit[c] = byte(r)
	}
	return a
}

func (a *alphabet) has(c byte) bool { return a.chars[a.digit[c]] == c }

func asciiChars() string {
	b := make([]byte, 128)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

var alphabets = []*alphabet{
	newAlphabet("-0123456789abcdef"),                       // UUIDs
	newAlphabet("0123456789ABCDEFGHJKMNPQRSTVWXYZ"),        // ULIDs
	newAlphabet("-0123456789ABCDEFGHJKMNPQRSTVWXYZabcdef"), // both
	newAlphabet(asciiChars()),
}

// alphabetOf picks the alphabet of a range from its ends.
func alphabetOf(r KeyRange) *alphabet {
next:
	for _, a := range alphabets[:len(alphabets)-1] {
		for _, k := range []string{r.Start, r.End} {
			for i := 0; i < len(k); i++ {
				if k[i] != 0 && !a.has(k[i]) {
					continue next
				}
			}
		}
		return a
	}
	return alphabets[len(alphabets)-1]
}

// pos is a key's position as an integer of w digits.
func (a *alphabet) pos(key string, w int) *big.Int {
	x := new(big.Int)
	d := new(big.Int)
	for i := range w {
		x.Mul(x, a.base)
		if i < len(key) {
			x.Add(x, d.SetUint64(uint64(a.digit[key[i]])))
		}
	}
	return x
}

// endPos is the position of a range's End: 1.0 (base^w) when open.
func (a *alphabet) endPos(end string, w int) *big.Int {
	if end == "" {
		return new(big.Int).Exp(a.base, big.NewInt(int64(w)), nil)
	}
	return a.pos(end, w)
}

// key turns a position of w digits back into a key, without trailing
// zero digits (which keeps the order of split points).
func (a *alphabet) key(x *big.Int, w int) string {
	buf := make([]byte, w)
	y := new(big.Int).Set(x)
	d := new(big.Int)
	for i := w - 1; i >= 0; i-- {
		y.QuoRem(y, a.base, d)
		buf[i] = a.chars[d.Int64()]
	}
	n := len(buf)
	for n > 0 && buf[n-1] == a.chars[0] {
		n--
	}
	return string(buf[:n])
}

// fraction is position difference d at width w as a share of the key
// space.
func (a *alphabet) fraction(d *big.Int, w int) float64 {
	if d.Sign() <= 0 {
		return 0
	}
	num := new(big.Float).SetInt(d)
	den := new(big.Float).SetInt(a.endPos("", w))
	v, _ := num.Quo(num, den).Float64()
	return v
}

// keyWidth is the number of digits for positions in r: enough for both
// ends plus some for split points between neighbours.
func keyWidth(r KeyRange) int { return max(len(r.Start), len(r.End)) + 3 }

// Size is the share of the key space that r covers, in [0, 1] (in the
// alphabet of r).
func (r KeyRange) Size() float64 {
	if r.IsEmpty() {
		return 0
	}
	a, w := alphabetOf(r), keyWidth(r)
	return a.fraction(new(big.Int).Sub(a.endPos(r.End, w), a.pos(r.Start, w)), w)
}

// sizeIn is r's size in the alphabet of an enclosing range, so that parts
// of one range compare.
func (r KeyRange) sizeIn(a *alphabet) float64 {
	if r.IsEmpty() {
		return 0
	}
	w := keyWidth(r)
	return a.fraction(new(big.Int).Sub(a.endPos(r.End, w), a.pos(r.Start, w)), w)
}

// KeyAt returns the key at fraction f ∈ (0, 1) of the way from r.Start
// to r.End, rounded up to a split point, and false when there is no split
// point strictly inside r there.
func (r KeyRange) KeyAt(f float64) (string, bool) {
	if r.IsEmpty() || !(f > 0 && f < 1) {
		return "", false
	}
	a, w := alphabetOf(r), keyWidth(r)
	s := a.pos(r.Start, w)
	d := new(big.Int).Sub(a.endPos(r.End, w), s)
	if d.Sign() <= 0 {
		return "", false
	}
	prec := uint(7*w + 64)
	off := new(big.Float).SetPrec(prec).SetInt(d)
	off.Mul(off, new(big.Float).SetPrec(prec).SetFloat64(f))
	step, acc := off.Int(nil)
	if acc == big.Below { // round up: a split point is never before the fraction
		step.Add(step, big.NewInt(1))
	}
	if step.Sign() <= 0 {
		step.SetInt64(1)
	}
	key := a.key(new(big.Int).Add(s, step), w)
	if key <= r.Start || !r.Contains(key) {
		return "", false
	}
	return key, true
}

// Split divides r into up to n ranges of (about) equal share of the key
// space, in order, that together are exactly r. Fewer come back when r is
// too narrow; an empty r comes back alone.
func (r KeyRange) Split(n int) []KeyRange {
	if n <= 1 || r.IsEmpty() {
		return []KeyRange{r}
	}
	out := make([]KeyRange, 0, n)
	start := r.Start
	for i := 1; i < n; i++ {
		key, ok := r.KeyAt(float64(i) / float64(n))
		if !ok || key <= start {
			continue
		}
		out = append(out, KeyRange{Start: start, End: key})
		start = key
	}
	return append(out, KeyRange{Start: start, End: r.End})
}

// EndOfRange is the position to claim when a reader has read everything
// of its range: the claim fails, and the tracker is done.
var EndOfRange any = endOfRange{}

type endOfRange struct{}

// KeyRangeTracker is an sdf.RTracker over a KeyRange. Positions are keys,
// claimed in strictly increasing order, and EndOfRange. It is not safe for
// concurrent use: Beam wraps it in an sdf.LockRTracker.
type KeyRangeTracker struct {
	rest    KeyRange
	last    string // the last claimed key
	claimed bool
	stopped bool
	err     error
}

// NewKeyRangeTracker tracks r.
func NewKeyRangeTracker(r KeyRange) *KeyRangeTracker {
	return &KeyRangeTracker{rest: r}
}

func (t *KeyRangeTracker) String() string {
	return fmt.Sprintf("KeyRangeTracker(%v, last %q, stopped %v, err %v)", t.rest, t.last, t.stopped, t.err)
}

// TryClaim claims a key (string) of the range, or EndOfRange. It returns
// false, and the reader must stop, for a key at or past the end (or a split
// point) and for EndOfRange; a key before the start, a key not after the
// last claimed one, or any claim after a false one is an error.
func (t *KeyRangeTracker) TryClaim(pos any) bool {
	if t.stopped {
		if t.err == nil {
			t.err = errors.New("storeio: claim after the tracker answered false")
		}
		return false
	}
	switch p := pos.(type) {
	case endOfRange:
		t.stopped = true
		return false
	case string:
		switch {
		case p < t.rest.Start:
			t.err = fmt.Errorf("storeio: key %q is before the range %v", p, t.rest)
		case t.claimed && p <= t.last:
			t.err = fmt.Errorf("storeio: key %q is not after the last claimed key %q", p, t.last)
		case !t.rest.Contains(p):
			t.stopped = true
			return false
		default:
			t.last, t.claimed = p, true
			return true
		}
	default:
		t.err = fmt.Errorf("storeio: cannot claim a %T", pos)
	}
	t.stopped = true
	return false
}

// GetError implements sdf.RTracker.
func (t *KeyRangeTracker) GetError() error { return t.err }

// next is the smallest key not yet claimed: the start, or just after the
// last claimed key.
func (t *KeyRangeTracker) next() string {
	if !t.claimed {
		return t.rest.Start
	}
	return t.last + "\x00"
}

// TrySplit splits the unclaimed rest at fraction of it: the tracker keeps
// [Start, split) and the residual is [split, End). Fraction 0 is a
// checkpoint: the split is just after the last claimed key, and the tracker
// is done. No split (nil residual) when the tracker is done or no split
// point lies inside the rest.
func (t *KeyRangeTracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if t.stopped || t.err != nil || t.IsDone() {
		return t.rest, nil, nil
	}
	fraction = max(0, min(1, fraction))
	cur := t.next()
	split := cur
	if fraction > 0 {
		key, ok := KeyRange{Start: cur, End: t.rest.End}.KeyAt(fraction)
		if !ok {
			return t.rest, nil, nil
		}
		split = key
	}
	if t.rest.End != "" && split >= t.rest.End {
		return t.rest, nil, nil
	}
	res := KeyRange{Start: split, End: t.rest.End}
	t.rest.End = split
	return t.rest, res, nil
}

// GetProgress reports the claimed and the unclaimed share of the key space.
func (t *KeyRangeTracker) GetProgress() (done, remaining float64) {
	if t.rest.IsEmpty() {
		return 0, 0
	}
	cur := t.next()
	if t.stopped && t.err == nil {
		cur = t.rest.End
		if cur == "" {
			return KeyRange{Start: t.rest.Start}.sizeIn(alphabetOf(t.rest)), 0
		}
	}
	a := alphabetOf(t.rest)
	if cur != t.rest.Start {
		done = KeyRange{Start: t.rest.Start, End: cur}.sizeIn(a)
	}
	return done, KeyRange{Start: cur, End: t.rest.End}.sizeIn(a)
}

// IsDone reports whether the whole range has been claimed or given away.
func (t *KeyRangeTracker) IsDone() bool {
	if t.err != nil {
		return false
	}
	return t.stopped || t.rest.IsEmpty() || (t.claimed && t.rest.End != "" && t.rest.End <= t.last+"\x00")
}

// GetRestriction returns the current range (a KeyRange).
func (t *KeyRangeTracker) GetRestriction() any { return t.rest }

// IsBounded is true: a key range of a database is a finite amount of work.
func (t *KeyRangeTracker) IsBounded() bool { return true }

func encodeKeyRange(r KeyRange) ([]byte, error) {
	b := binary.AppendUvarint(nil, uint64(len(r.Start)))
	b = append(b, r.Start...)
	b = binary.AppendUvarint(b, uint64(len(r.End)))
	return append(b, r.End...), nil
}

func decodeKeyRange(b []byte) (KeyRange, error) {
	var r KeyRange
	for _, s := range []*string{&r.Start, &r.End} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return KeyRange{}, errors.New("storeio: bad KeyRange encoding")
		}
		*s = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if len(b) != 0 {
		return KeyRange{}, errors.New("storeio: trailing bytes after a KeyRange")
	}
	return r, nil
}
