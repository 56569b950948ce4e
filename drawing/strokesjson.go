package drawing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written reader for the strokes JSON, about ten times faster than
// encoding/json with a strict Point decoder, that stops at the first broken
// limit instead of allocating what it will refuse. It accepts exactly the
// JSON grammar (RFC 8259), with these rules for points: an object with
// numeric "x" and "y" and an optional numeric "t" (names matched like
// encoding/json does, ignoring case), and nothing else. A repeated name
// (also "x" beside "X") and any other member are refused, as the event's
// envelope refuses them: readers that disagree on which of two values
// counts (the first or the last) must never see the same event, and a
// member nothing reads is a mistake or a smuggled payload.

// jsonReader reads JSON from data, at offset i.
type jsonReader struct {
	data []byte
	i    int
}

// errorf describes malformed JSON at the reader's offset.
func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", r.i, fmt.Sprintf(format, args...))
}

func (r *jsonReader) space() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end (a NUL
// byte, never valid there, reads the same).
func (r *jsonReader) peek() byte {
	r.space()
	if r.i < len(r.data) {
		return r.data[r.i]
	}
	return 0
}

func (r *jsonReader) expect(c byte, what string) error {
	if r.peek() != c {
		if r.i >= len(r.data) {
			return r.errorf("unexpected end, %s", what)
		}
		return r.errorf("unexpected %q, %s", r.data[r.i], what)
	}
	r.i++
	return nil
}

// number reads a JSON number as a float64.
func (r *jsonReader) number() (float64, error) {
	r.space()
	d, start := r.data, r.i
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return 0, r.errorf("a number is expected")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			r.i = i
			return 0, r.errorf("digits are expected after the decimal point")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			r.i = i
			return 0, r.errorf("digits are expected in the exponent")
		}
	}
	v, err := strconv.ParseFloat(string(d[start:i]), 64)
	if err != nil {
		return 0, r.errorf("number %s is out of the float64 range", d[start:i])
	}
	r.i = i
	return v, nil
}

// str reads a JSON string and returns its value.
func (r *jsonReader) str() (string, error) {
	if err := r.expect('"', "a string is expected"); err != nil {
		return "", err
	}
	d := r.data
	start := r.i
	// Fast path: no escapes.
	for i := start; i < len(d); i++ {
		c := d[i]
		if c == '"' {
			if !utf8.Valid(d[start:i]) {
				break
			}
			r.i = i + 1
			return string(d[start:i]), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	var b strings.Builder
	for r.i < len(d) {
		c := d[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), nil
		case c < 0x20:
			return "", r.errorf("control character in a string")
		case c == '\\':
			if r.i+1 >= len(d) {
				return "", r.errorf("unexpected end in a string")
			}
			e := d[r.i+1]
			r.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				u, ok := r.hex4()
				if !ok {
					return "", r.errorf(`bad \u escape`)
				}
				if utf16.IsSurrogate(u) {
					// A valid pair makes one rune; anything else is U+FFFD.
					save := r.i
					if r.i+1 < len(d) && d[r.i] == '\\' && d[r.i+1] == 'u' {
						r.i += 2
						if u2, ok := r.hex4(); ok {
							if p := utf16.DecodeRune(u, u2); p != utf8.RuneError {
								b.WriteRune(p)
								continue
							}
						}
					}
					r.i = save
					u = utf8.RuneError
				}
				b.WriteRune(u)
			default:
				return "", r.errorf("bad escape \\%c", e)
			}
		default:
			ch, size := utf8.DecodeRune(d[r.i:])
			b.WriteRune(ch) // invalid UTF-8 becomes U+FFFD, as in encoding/json
			r.i += size
		}
	}
	return "", r.errorf("unexpected end in a string")
}

// hex4 reads the four hex digits of a \u escape.
func (r *jsonReader) hex4() (rune, bool) {
	if r.i+4 > len(r.data) {
		return 0, false
	}
	var v rune
	for _, c := range r.data[r.i : r.i+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return v, true
}

// point reads one {"x":…,"y":…,"t":…} object.
func (r *jsonReader) point() (Point, error) {
	if err := r.expect('{', "a point object is expected"); err != nil {
		return Point{}, err
	}
	if r.peek() == '}' {
		r.i++
		return Point{}, r.errorf("%v", errPointShape)
	}
	var p Point
	var seen [3]bool // x, y, t
	dst := [3]*float64{&p.X, &p.Y, &p.T}
	for {
		name, err := r.str()
		if err != nil {
			return Point{}, err
		}
		k := pointMember(name)
		switch {
		case k < 0:
			return Point{}, r.errorf("unknown member %s in a point: %v", quoteName(name), errPointShape)
		case seen[k]:
			return Point{}, r.errorf("member %s is given twice in a point", quoteName(name))
		}
		seen[k] = true
		if err := r.expect(':', "':' is expected after a name"); err != nil {
			return Point{}, err
		}
		if *dst[k], err = r.number(); err != nil {
			if c := r.peek(); c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n' {
				return Point{}, r.errorf("%q must be a number", name)
			}
			return Point{}, err
		}
		if r.peek() == '}' {
			r.i++
			break
		}
		if err := r.expect(',', "',' or '}' is expected"); err != nil {
			return Point{}, err
		}
	}
	if !seen[0] || !seen[1] {
		return Point{}, r.errorf("%v", errPointShape)
	}
	return p, nil
}

// pointMember is the index of a point's member name (0 x, 1 y, 2 t),
// matched as encoding/json matches field names, or -1 for any other name.
func pointMember(name string) int {
	for k, want := range [...]string{"x", "y", "t"} {
		if strings.EqualFold(name, want) {
			return k
		}
	}
	return -1
}

// quoteName quotes a member name for an error, cut short: the name comes
// from the client and can be as long as the body.
func quoteName(name string) string {
	const most = 32
	if len(name) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return strconv.Quote(name[:cut]) + "…"
	}
	return strconv.Quote(name)
}

// errPointShape is what a point without x or y is.
var errPointShape = errors.New(`a point must be an object with numeric "x" and "y" (and optional "t")`)

// strokes reads the whole strokes array, checking the counts against lim
// as it goes.
func (r *jsonReader) strokes(lim Limits) ([]Stroke, error) {
	if r.peek() != '[' {
		return nil, fmt.Errorf("%w: strokes JSON must be an array of strokes", ErrInvalid)
	}
	r.i++
	invalid := func(err error) error { return fmt.Errorf("%w: strokes JSON: %w", ErrInvalid, err) }
	var out []Stroke
	if r.peek() == ']' {
		r.i++
	} else {
		for {
			if len(out) == lim.MaxStrokes {
				return nil, fmt.Errorf("%w: more than %d strokes, the limit is %d", ErrTooLarge, lim.MaxStrokes, lim.MaxStrokes)
			}
			if err := r.expect('[', "a stroke (an array of points) is expected"); err != nil {
				return nil, invalid(err)
			}
			var s Stroke
			if r.peek() == ']' {
				r.i++
			} else {
				for {
					if len(s) == lim.MaxPointsPerStroke {
						return nil, fmt.Errorf("%w: stroke %d has more than %d points, the limit is %d per stroke",
							ErrTooLarge, len(out), lim.MaxPointsPerStroke, lim.MaxPointsPerStroke)
					}
					p, err := r.point()
					if err != nil {
						return nil, invalid(err)
					}
					s = append(s, p)
					if r.peek() == ']' {
						r.i++
						break
					}
					if err := r.expect(',', "',' or ']' is expected after a point"); err != nil {
						return nil, invalid(err)
					}
				}
			}
			out = append(out, s)
			if r.peek() == ']' {
				r.i++
				break
			}
			if err := r.expect(',', "',' or ']' is expected after a stroke"); err != nil {
				return nil, invalid(err)
			}
		}
	}
	if r.space(); r.i < len(r.data) {
		return nil, invalid(r.errorf("data after the strokes array"))
	}
	if out == nil {
		out = []Stroke{}
	}
	return out, nil
}
