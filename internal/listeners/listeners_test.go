package listeners

import (
	"net"
	"net/netip"
	"slices"
	"testing"
)

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		bad  bool
	}{
		{in: "0100007F:1F90", want: "127.0.0.1:8080"},
		{in: "00000000:2384", want: "0.0.0.0:9092"},
		{in: "00000000000000000000000000000000:0050", want: "[::]:80"},
		{in: "00000000000000000000000001000000:0050", want: "[::1]:80"},
		{in: "0000000000000000FFFF00000100007F:1F90", want: "127.0.0.1:8080"}, // v4-mapped
		{in: "0100007F", bad: true},
		{in: "zz00007F:1F90", bad: true},
		{in: "0100007F:FFFFF", bad: true},
		{in: "01007F:1F90", bad: true},
	} {
		got, err := ParseProcAddr(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseProcAddr(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseProcAddr(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestUnexpected(t *testing.T) {
	ap := netip.MustParseAddrPort
	got := []netip.AddrPort{ap("127.0.0.1:1"), ap("[::1]:2"), ap("0.0.0.0:8080"), ap("[::]:9092"), ap("10.1.2.3:7000"), ap("0.0.0.0:5555")}
	for _, tc := range []struct {
		name    string
		allowed []string
		want    []netip.AddrPort
	}{
		{"nothing named", nil, got[2:]},
		{"wildcard named", []string{":8080", "0.0.0.0:9092", "10.1.2.3:7000"}, got[5:]},
		{"port 0 named", []string{"0.0.0.0:0"}, []netip.AddrPort{got[4]}},
		{"another host named", []string{"10.9.9.9:7000", "10.1.2.3:7001"}, got[2:]},
	} {
		if u := Unexpected(got, tc.allowed...); !slices.Equal(u, tc.want) {
			t.Errorf("%s: Unexpected = %v, want %v", tc.name, u, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:1": true, "[::1]:80": true, "localhost:0": true, "app.localhost:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:1": false, "10.0.0.1:1": false, "example.com:80": false, "127.0.0.1": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestOfThisProcess opens listeners and finds them, and finds no more of
// them once they are closed.
func TestOfThisProcess(t *testing.T) {
	open := func(addr string) netip.AddrPort {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().(*net.TCPAddr).AddrPort()
	}
	lo := open("127.0.0.1:0")
	all := open(":0")
	all = netip.AddrPortFrom(netip.IPv6Unspecified(), all.Port())
	got, err := Of(0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, lo) || !slices.Contains(got, all) {
		t.Fatalf("Of(0) = %v, want %v and %v among them", got, lo, all)
	}
	if u := Unexpected(got); !slices.Contains(u, all) || slices.Contains(u, lo) {
		t.Errorf("Unexpected(%v) = %v: want the wildcard listener and not the loopback one", got, u)
	}
}
