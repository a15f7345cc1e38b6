package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/pressure"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// vmStep reads a real-kernel snapshot (testdata/vm): the 2.3.2 ones record
// every zfs_arc_* parameter and the kernel release (6.1).
func vmStep(t *testing.T, version, step string) *host.Snapshot {
	t.Helper()
	s, err := host.Read(testutil.OpenRoot(t, filepath.Join(testutil.RepoRoot(t), "testdata", "vm", version, step)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func knownBugs(t *testing.T, s *host.Snapshot) (string, *Report) {
	t.Helper()
	rec := recommend(t, s, policy.Input{Reservations: reserve2G()})
	p, boot := pressure.Verdict(s, nil)
	r := New(Input{Tool: "arcadvise test", Root: "r", Host: s, Recommendation: rec, Pressure: p, BootPressure: boot})
	var b bytes.Buffer
	if err := r.WriteText(&b, TextOptions{Width: 200}); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	i, j := strings.Index(text, "Known ARC bugs"), strings.Index(text, "\nMemory\n")
	if i < 0 || j < i {
		t.Fatalf("no known-bugs section:\n%s", text)
	}
	// The paragraphs wrap at the width: compare words, not lines.
	return strings.Join(strings.Fields(text[i:j]), " "), r
}

// TestKnownBugsText: what the known-bugs section says, on the real 2.3.2
// snapshot as recorded, and on it relabelled 2.2.9 with and without
// zfs_arc_shrinker_limit=0.
func TestKnownBugsText(t *testing.T) {
	s := vmStep(t, "2.3.2-2~bpo12+2", "20-default-pressure")
	text, r := knownBugs(t, s)
	for _, want := range []string{
		"Known ARC bugs in OpenZFS 2.3.2: upgrade to 2.3.4,",
		"dnodes held by files of non-root memory cgroups are never freed", "issue #17487, PR #17542",
		"issue #17210, PR #17255", "PR #17561",
		"(issue #15776; affects 2.2.0 and later; fixed in no release up to 2.4.4 (master has 73b202451e))",
		"No upgrade avoids issue #15776: it is fixed in no release up to 2.4.4",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("2.3.2: no %q in\n%s", want, text)
		}
	}
	// zfs_arc_pc_percent is 0 there: #17334 is not listed.
	if strings.Contains(text, "17334") || r.ZFS.UpgradeTo != "2.3.4" {
		t.Errorf("2.3.2: #17334 listed with zfs_arc_pc_percent=0, or upgrade %q:\n%s", r.ZFS.UpgradeTo, text)
	}

	// The same host as 2.2.9 with the shrinker limit at 0: covered, no
	// upgrade, no branch change.
	s.Module.Version = zfsmod.V(2, 2, 9)
	s.Module.Params[zfsmod.ShrinkerLimit] = zfsmod.Param{Value: 0, Present: true}
	text, r = knownBugs(t, s)
	for _, want := range []string{
		"Known ARC bugs in OpenZFS 2.2.9: no upgrade needed, the ones that can apply here are covered by a setting or fixed in no release, as long as zfs_arc_shrinker_limit=0 stays set",
		"covered here: zfs_arc_shrinker_limit=0 is set",
		"No upgrade avoids issue #15776",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("2.2.9 with the workaround: no %q in\n%s", want, text)
		}
	}
	if r.ZFS.UpgradeTo != "" || strings.Contains(text, "upgrade to") || strings.Contains(text, "2.3.4") {
		t.Errorf("2.2.9 with the workaround names a branch change (%q):\n%s", r.ZFS.UpgradeTo, text)
	}

	// Without it, 2.3.4.
	s.Module.Params[zfsmod.ShrinkerLimit] = zfsmod.Param{Value: 10000, Present: true}
	text, r = knownBugs(t, s)
	if r.ZFS.UpgradeTo != "2.3.4" || !strings.Contains(text, "without an upgrade, set zfs_arc_shrinker_limit=0") {
		t.Errorf("2.2.9 stock: upgrade %q\n%s", r.ZFS.UpgradeTo, text)
	}

	// 2.1.11 does not have #15776, the release it is told to go to does.
	text, _ = knownBugs(t, vmStep(t, "2.1.11-1+deb12u1", "20-default-pressure"))
	for _, want := range []string{"upgrade to 2.3.4", "PR #17561", "2.3.4 carries a known bug that 2.1.11 does not: posix_fadvise", "so no upgrade avoids it"} {
		if !strings.Contains(text, want) {
			t.Errorf("2.1.11: no %q in\n%s", want, text)
		}
	}

	// Newer than the table: no claim.
	s.Module.Version = zfsmod.V(2, 4, 5)
	text, _ = knownBugs(t, s)
	if !strings.Contains(text, "this release is newer than 2.4.4, the newest the table was checked against") {
		t.Errorf("2.4.5:\n%s", text)
	}
}
