// Package listeners tells which TCP addresses a process listens on, read
// from Linux's /proc, so that Stratus can prove (in its tests, and in
// itself at start-up) that nothing listens beyond loopback unless the user
// named the address. A library that opens a port of its own (a runner's job
// service, a worker endpoint) shows up here like any other.
package listeners

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ErrUnsupported is returned where /proc is not there to read (not Linux).
var ErrUnsupported = errors.New("listeners: listing sockets needs Linux's /proc")

// tcpListen is the st column of /proc/net/tcp for a listening socket.
const tcpListen = "0A"

// Of returns the TCP addresses process pid listens on (0: this process),
// each once, in /proc's order.
func Of(pid int) ([]netip.AddrPort, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrUnsupported
	}
	proc := "/proc/self"
	if pid != 0 {
		proc = "/proc/" + strconv.Itoa(pid)
	}
	inodes, err := socketInodes(proc)
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	seen := map[netip.AddrPort]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		addrs, err := listening(filepath.Join(proc, "net", table), inodes)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// socketInodes returns the inodes of the sockets among proc's open files.
func socketInodes(proc string) (map[string]bool, error) {
	dir := filepath.Join(proc, "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listeners: %w", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return inodes, nil
}

// listening reads one /proc/net/tcp{,6} table and returns the local
// addresses of the listening sockets whose inode is in inodes.
func listening(table string, inodes map[string]bool) ([]netip.AddrPort, error) {
	f, err := os.Open(table)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no IPv6 on this host
	}
	if err != nil {
		return nil, fmt.Errorf("listeners: %w", err)
	}
	defer f.Close()
	var out []netip.AddrPort
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen || !inodes[fields[9]] {
			continue
		}
		a, err := ParseProcAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("listeners: %s: %w", table, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("listeners: %s: %w", table, err)
	}
	return out, nil
}

// ParseProcAddr parses a local_address of /proc/net/tcp ("0100007F:1F90")
// or tcp6 (32 hex digits, then the port): the address is written as 32-bit
// words in the host's byte order (little-endian on every platform Stratus
// ships for), the port in big-endian hex.
func ParseProcAddr(s string) (netip.AddrPort, error) {
	host, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q: no port", s)
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port: %w", s, err)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: bad host", s)
	}
	for w := 0; w < len(raw); w += 4 {
		raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Unexpected returns the addresses in got that are neither loopback nor
// among allowed: "host:port" strings as the user gave them (":8080" and
// "0.0.0.0:8080" name the wildcard) or as a listener reports them. An
// allowed address with port 0 allows any port on its host.
func Unexpected(got []netip.AddrPort, allowed ...string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range got {
		if a.Addr().IsLoopback() || matchesAny(a, allowed) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func matchesAny(a netip.AddrPort, allowed []string) bool {
	for _, s := range allowed {
		host, portStr, err := net.SplitHostPort(s)
		if err != nil {
			continue
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || (port != 0 && uint16(port) != a.Port()) {
			continue
		}
		if sameHost(host, a.Addr()) {
			return true
		}
	}
	return false
}

// sameHost reports whether a listener on addr is what host asked for.
func sameHost(host string, addr netip.Addr) bool {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return addr.IsUnspecified()
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap() == addr
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == addr {
			return true
		}
	}
	return false
}

// IsLoopback reports whether a listen address ("host:port") stays on this
// machine: a loopback address or "localhost". An empty host or a wildcard
// listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
