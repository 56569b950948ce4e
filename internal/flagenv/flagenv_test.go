package flagenv

import (
	"flag"
	"io"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantN   int
		wantErr bool
	}{
		{"default", nil, nil, "127.0.0.1:8080", 1, false},
		{"env", nil, map[string]string{"STRATUS_LISTEN": ":9000", "STRATUS_BATCH_SIZE": "7"}, ":9000", 7, false},
		{"flag beats env", []string{"--listen", ":1"}, map[string]string{"STRATUS_LISTEN": ":9000"}, ":1", 1, false},
		{"bad env", nil, map[string]string{"STRATUS_BATCH_SIZE": "seven"}, "127.0.0.1:8080", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			listen := fs.String("listen", "127.0.0.1:8080", "")
			n := fs.Int("batch-size", 1, "")
			err := Parse(fs, tc.args, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if *listen != tc.want || (!tc.wantErr && *n != tc.wantN) {
				t.Fatalf("listen=%q n=%d, want %q %d", *listen, *n, tc.want, tc.wantN)
			}
		})
	}
}
