package host

import (
	"path/filepath"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestReadSystemBoostFactor: vm.watermark_boost_factor is read once per run
// into the System; a root without the file says so (HasBoostFactor false,
// the factor left 0: the policy alone picks the kernel's default).
func TestReadSystemBoostFactor(t *testing.T) {
	vm := filepath.Join(testutil.RepoRoot(t), "testdata", "vm", "2.3.2-2~bpo12+2")
	for _, tc := range []struct {
		snap   string
		has    bool
		factor uint64
	}{
		{"50-frontier-rest-4096M-boost0", true, 0}, // the lane set it to 0 (BOOST_FACTOR=0)
		{"50-frontier-rest-4096M", false, 0},       // recorded before the lane took the file
	} {
		sys, err := ReadSystem(testutil.OpenRoot(t, filepath.Join(vm, tc.snap)))
		if err != nil {
			t.Fatalf("%s: %v", tc.snap, err)
		}
		if sys.HasBoostFactor != tc.has || sys.BoostFactor != tc.factor {
			t.Errorf("%s: factor %d (read %v), want %d (read %v)", tc.snap, sys.BoostFactor, sys.HasBoostFactor, tc.factor, tc.has)
		}
	}
	root := t.TempDir()
	testutil.WriteTree(t, root, map[string]string{"proc/sys/vm/watermark_boost_factor": "15000\n"})
	if sys, err := ReadSystem(testutil.OpenRoot(t, root)); err != nil || !sys.HasBoostFactor || sys.BoostFactor != 15000 {
		t.Errorf("the default written out: %+v, %v", sys, err)
	}
}
