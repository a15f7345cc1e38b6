package test

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestShellcheck: every shell script of the repository passes shellcheck,
// the host's at its default severity (style notes included), the guest's
// (test/vm/guest, run in the lane's QEMU guest) at warning and above.
func TestShellcheck(t *testing.T) {
	sc := testutil.Tool(t, "shellcheck", "shellcheck")
	repo := testutil.RepoRoot(t)
	// The hooks have the names their hypervisors call them by.
	host := []string{".ci/run", "contrib/proxmox/arcadvise-hook", "contrib/libvirt/qemu"}
	guest := []string{"test/vm/guest/zfslab-hook"}
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".sh") {
			return nil
		}
		rel, _ := filepath.Rel(repo, p)
		if strings.HasPrefix(rel, filepath.Join("test", "vm", "guest")+string(filepath.Separator)) {
			guest = append(guest, rel)
		} else {
			host = append(host, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(host) < 8 || len(guest) < 8 {
		t.Fatalf("found %d host and %d guest scripts: %q %q", len(host), len(guest), host, guest)
	}
	for _, c := range []struct {
		severity string
		files    []string
	}{{"style", host}, {"warning", guest}} {
		cmd := exec.Command(sc, append([]string{"-x", "-S", c.severity}, c.files...)...)
		cmd.Dir = repo // the scripts' "# shellcheck source=" paths are from the top of the checkout
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck -S %s %s: %v\n%s", c.severity, strings.Join(c.files, " "), err, out)
		}
	}
}
