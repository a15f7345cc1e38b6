// Package packaging holds the build of arcadvise's .deb and .rpm
// (build.sh, nfpm.yaml); this test runs it for real.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestPackages runs packaging/build.sh with a fixed version from a directory
// outside the checkout (build.sh finds the checkout from its own location)
// with a relative DIST (taken from that directory), then checks both
// packages with the distributions' own tools: lintian reports no error or
// warning on the .deb, rpm -qlp and dpkg-deb list the expected files, and
// the packaged binary prints its stamped version.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both packages")
	}
	testutil.Tool(t, "go-md2man", "go-md2man")
	lintian := testutil.Tool(t, "lintian", "lintian")
	rpm := testutil.Tool(t, "rpm", "rpm")
	dpkgDeb := testutil.Tool(t, "dpkg-deb", "dpkg")
	repo := testutil.RepoRoot(t)
	cwd := t.TempDir()
	dist := filepath.Join(cwd, "out")
	const version = "0.1.0~test1"
	cmd := exec.Command("bash", filepath.Join(repo, "packaging", "build.sh"), version)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "DIST=out")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := filepath.Join(dist, "arcadvise_"+version+"-1_amd64.deb")
	rpmFile := filepath.Join(dist, "arcadvise-"+version+"-1.x86_64.rpm")

	out, err := exec.Command(lintian, "--tag-display-limit", "0", deb).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
			t.Errorf("lintian: %s", l)
		}
	}
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}

	common := []string{"/etc/default/arcadvise", "/usr/bin/arcadvise", "/usr/share/man/man8/arcadvise.8.gz",
		"/usr/share/bash-completion/completions/arcadvise",
		"/usr/share/arcadvise/proxmox/arcadvise-hook", "/usr/share/arcadvise/libvirt/qemu"}
	list := func(name string, args ...string) string {
		b, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	debFiles := list(dpkgDeb, "-c", deb)
	for _, f := range append(common, "/lib/systemd/system/arcadvise-textfile.service", "/lib/systemd/system/arcadvise-textfile.timer",
		"/usr/share/zsh/vendor-completions/_arcadvise", "/usr/share/doc/arcadvise/copyright",
		"/usr/share/doc/arcadvise/changelog.Debian.gz", "/usr/share/doc/arcadvise/README.md.gz") {
		if !strings.Contains(debFiles, " ."+f+"\n") {
			t.Errorf(".deb lacks %s:\n%s", f, debFiles)
		}
	}
	rpmFiles := list(rpm, "-qlp", rpmFile)
	for _, f := range append(common, "/usr/lib/systemd/system/arcadvise-textfile.service", "/usr/lib/systemd/system/arcadvise-textfile.timer",
		"/usr/share/zsh/site-functions/_arcadvise", "/usr/share/licenses/arcadvise/COPYING",
		"/usr/share/doc/arcadvise/README.md", "/usr/share/doc/arcadvise/changelog.md") {
		if !strings.Contains("\n"+rpmFiles, "\n"+f+"\n") {
			t.Errorf(".rpm lacks %s:\n%s", f, rpmFiles)
		}
	}
	if cl := list(rpm, "-qp", "--changelog", rpmFile); !strings.Contains(cl, "First packaged version") {
		t.Errorf("rpm %%changelog: %s", cl)
	}

	// The packaged binary: static, stamped.
	x := t.TempDir()
	list(dpkgDeb, "-x", deb, x)
	v := list(filepath.Join(x, "usr", "bin", "arcadvise"), "--version")
	if !strings.HasPrefix(v, "arcadvise "+version) {
		t.Errorf("packaged arcadvise --version = %q, want %s", v, version)
	}
}
