package vm

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// Footprint budgets: the guest instructions QEMU may translate for a run's
// own work, beyond what --version translates (the Go runtime's start and
// every package's initialisation), on the lane's 2.3.2 4 GiB snapshot at
// rest. Under TCG, where the lane's guests run, the time of a run that lives
// a few milliseconds follows this count (README.md here, "What the timing
// measures under TCG"); unlike a timing it is the same on every machine to
// about 1%. Measured on 2026-12-07 at 10328d2: JSON 43.5 k, text 48.1 k; the
// budgets leave 10% for the code to grow before a test says so, and a
// change that needs more shows its figure here.
const (
	footprintJSONBudget = 47_000
	footprintTextBudget = 52_000
)

// TestFootprint runs footprint.sh as a maintainer does (a static build, three
// traced runs under qemu-x86_64 -d in_asm) and holds the extra of a JSON and
// a text run to the budgets.
func TestFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds arcadvise and traces three runs under qemu-x86_64")
	}
	testutil.Tool(t, "qemu-x86_64", "qemu-user")
	out, err := exec.Command("bash", filepath.Join(testutil.RepoRoot(t), "test", "vm", "footprint.sh"), "", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("footprint.sh: %v\n%s", err, out)
	}
	var v, j, x int
	var jr, xr float64
	line, _, _ := strings.Cut(string(out), "\n")
	if _, err := fmt.Sscanf(line, "translated instructions: --version %d, JSON %d (%f x), text %d (%f x)", &v, &j, &jr, &x, &xr); err != nil {
		t.Fatalf("footprint.sh's first line %q: %v", line, err)
	}
	// The start-up alone is tens of thousands of instructions: a count far
	// below says the trace did not run the binary.
	if v < 50_000 || j <= v || x <= v {
		t.Fatalf("translated instructions: --version %d, JSON %d, text %d: not a traced run\n%s", v, j, x, out)
	}
	t.Logf("--version %d, JSON %d (+%d), text %d (+%d)", v, j, j-v, x, x-v)
	if j-v > footprintJSONBudget {
		t.Errorf("a JSON run translates %d instructions beyond --version, over the budget of %d:\n%s", j-v, footprintJSONBudget, out)
	}
	if x-v > footprintTextBudget {
		t.Errorf("a text run translates %d instructions beyond --version, over the budget of %d:\n%s", x-v, footprintTextBudget, out)
	}
}
