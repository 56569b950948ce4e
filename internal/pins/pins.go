//go:build pins

// Package pins records, for `go mod tidy`, modules that Stratus pins before
// its code uses them (see ../shared/NOTES.md: kfake needs franz-go v1.22.3).
// It is never built.
package pins

import (
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/twmb/franz-go/pkg/kfake"
)
