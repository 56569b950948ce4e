package memstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/memstore"
	"github.com/stratusml/stratus/store/storetest"
)

var n atomic.Int64

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		name := fmt.Sprintf("contract%d", n.Add(1))
		t.Cleanup(func() { memstore.Drop(name, "") })
		return memstore.Open(name, "")
	})
}

// TestContractOnDisk runs the store contract on the on-disk form.
func TestContractOnDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := memstore.OpenDir(t.TempDir(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
