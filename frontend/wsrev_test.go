package frontend

import "testing"

// TestWSRevisions: each version of a drawing a connection revises gets a
// higher revision, so that a reply to an older version can never answer a
// newer one's request (reqreply matches on id and rev).
func TestWSRevisions(t *testing.T) {
	wc := &wsConn{}
	wc.own("a")
	wc.own("b")
	for _, tc := range []struct {
		id          string
		asked, want int
	}{
		{"a", 0, 1},
		{"a", 0, 2},
		{"b", 0, 1},
		{"a", 7, 7}, // the page's own counter, ahead
		{"a", 3, 8}, // behind: never back in time
		{"a", 0, 9},
		{"new", 0, 1},
		{"new", 4, 4},
	} {
		if got := wc.revise(tc.id, tc.asked); got != tc.want {
			t.Errorf("revise(%s, %d) = %d, want %d", tc.id, tc.asked, got, tc.want)
		}
	}
}
