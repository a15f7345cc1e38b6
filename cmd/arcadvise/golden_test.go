package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/arcadvise/arcadvise/internal/sample"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// bundledRoots lists every bundled host snapshot and recorded window:
// testdata/snapshots/*, testdata/replays/*, testdata/vm/*/* and the hosts
// that declare their workload, testdata/declared/*, as paths relative to
// this package (so the documents name them the same on every machine).
func bundledRoots(t *testing.T) []string {
	t.Helper()
	var roots []string
	for _, pat := range []string{"snapshots/*", "replays/*", "vm/*/*", "declared/*"} {
		dirs, err := filepath.Glob(filepath.Join("..", "..", "testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			_, errArc := os.Stat(filepath.Join(d, "proc", "spl", "kstat", "zfs", "arcstats"))
			_, errReplay := os.Stat(filepath.Join(d, sample.ManifestName))
			if errArc == nil || errReplay == nil {
				roots = append(roots, d)
			}
		}
	}
	if len(roots) < 20 {
		t.Fatalf("found %d bundled roots, want every snapshot and replay (at least 20)", len(roots))
	}
	return roots
}

// TestGolden runs the whole command on every bundled root, text and JSON,
// with --reserve 2G (and --reserve auto before it on the hosts that
// declare their workload, testdata/declared; --reserve auto alone on the
// lane's captures of a unit with MemoryMin=2G), and compares stdout and the
// exit status with testdata/golden/<root>.{txt,json}. go test -run
// TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	for _, root := range bundledRoots(t) {
		name := strings.NewReplacer("/", "_", "+", "_", "~", "_").Replace(strings.TrimPrefix(root, filepath.Join("..", "..", "testdata")+"/"))
		for _, format := range []string{"text", "json"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				var out bytes.Buffer
				args := []string{"--root", root, "--reserve", "2G", "--format", format}
				switch {
				case laneDeclares(root):
					args = []string{"--root", root, "--reserve", "auto", "--format", format}
				case declaresWorkload(root):
					args = append([]string{"--reserve", "auto"}, args...)
				}
				code := run(context.Background(), args, &out, io.Discard)
				if code != exitOK && code != exitOvercommitted {
					t.Fatalf("exit %d", code)
				}
				got := out.Bytes()
				if format == "text" {
					checkFits(t, string(got), 80)
				}
				if code != exitOK {
					got = append([]byte("# exit "+strconv.Itoa(code)+"\n"), got...)
				}
				ext := map[string]string{"text": ".txt", "json": ".json"}[format]
				golden(t, filepath.Join("testdata", "golden", name+ext), got)
			})
		}
	}
}

// declaresWorkload: the root is one of testdata/declared (goldens with
// --reserve auto --reserve 2G), or a lane capture that declares
// (laneDeclares).
func declaresWorkload(root string) bool {
	return strings.HasPrefix(root, filepath.Join("..", "..", "testdata", "declared")+string(filepath.Separator)) || laneDeclares(root)
}

// laneDeclares: a capture of the real-kernel lane (testdata/vm) whose
// cgroup tree holds a memory.min above 0, the lane's declare scenario
// (systemd-run -p MemoryMin=2G): its goldens run --reserve auto alone, the
// 2 GiB being the unit's.
func laneDeclares(root string) bool {
	if !strings.HasPrefix(root, filepath.Join("..", "..", "testdata", "vm")+string(filepath.Separator)) {
		return false
	}
	found := false
	_ = filepath.WalkDir(filepath.Join(root, "sys", "fs", "cgroup"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || d.Name() != "memory.min" {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "0" {
			found = true
		}
		return nil
	})
	return found
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/arcadvise -run TestGolden -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -run TestGolden -update rewrites it):\n%s", path, udiff.Unified(path, "got", string(want), string(got)))
	}
}

// checkFits: every line is at most width columns, and the answer (the cap,
// or over-committed) is in the first 10 lines.
func checkFits(t *testing.T, text string, width int) {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > width {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}
	answer := slices.IndexFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "Recommendation: ") || strings.HasPrefix(l, "Your cap") || strings.HasPrefix(l, "Over-committed")
	})
	if answer < 0 || answer >= 10 {
		t.Errorf("the answer is on line %d, want one of the first 10", answer+1)
	}
}

// TestREADMESchema: the README's JSON section and the golden documents
// agree. Every key of every golden document is named in the README (as
// `key`), and every dotted path the README gives (`host.mem_total_bytes`)
// is in some golden document.
func TestREADMESchema(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)
	a, b := strings.Index(sec, "## JSON output"), strings.Index(sec, "Schema changes:")
	if a < 0 || b < a {
		t.Fatal("README has no JSON output section with its schema changes")
	}
	sec = sec[a:b]
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_][a-z0-9_.\\[\\]]*)`").FindAllStringSubmatch(sec, -1) {
		named[m[1]] = true
		for _, part := range strings.Split(strings.ReplaceAll(m[1], "[]", ""), ".") {
			named[part] = true
		}
	}
	paths := map[string]bool{}
	// Beside the goldens (--reserve 2G, nothing applied): a forced refused
	// cap, and a write and a live apply on a module that takes the value.
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-capped"))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runFakeZFSUntil(ctx, root); close(done) }()
	for _, args := range [][]string{
		{"--root", root, "--arc-max", "16M", "--force", "--format", "json"},
		{"--root", root, "--arc-max", "256M", "--write", "--live", "--format", "json"}, // lowers the cap: config.notes
	} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, io.Discard); code != 0 {
			t.Fatalf("%q: exit %d", args, code)
		}
		var doc any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		flatten("", doc, paths)
	}
	cancel()
	<-done
	// A write on a host whose zfs module loads from the initramfs (root on
	// ZFS): config.initramfs_command.
	zroot := filepath.Join(t.TempDir(), "zfsroot")
	if err := os.CopyFS(zroot, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-arc-filled"))); err != nil {
		t.Fatal(err)
	}
	testutil.WriteTree(t, zroot, map[string]string{
		"proc/mounts":    "rpool/ROOT/debian / zfs rw,relatime,xattr,noacl 0 0\n",
		"etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n",
	})
	var zout bytes.Buffer
	if code := run(context.Background(), []string{"--root", zroot, "--reserve", "2G", "--write", "--format", "json"}, &zout, io.Discard); code != 0 {
		t.Fatalf("write on a root-on-ZFS host: exit %d", code)
	}
	var zdoc any
	if err := json.Unmarshal(zout.Bytes(), &zdoc); err != nil {
		t.Fatal(err)
	}
	flatten("", zdoc, paths)
	// config.initramfs[] and config.next_cmdline[]: a hand-made image in
	// /boot (read by --check, listed unread by the report) and the next
	// boot's command line in /etc/default/grub (set twice: a note).
	iroot := filepath.Join(t.TempDir(), "images")
	if err := os.CopyFS(iroot, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-capped"))); err != nil {
		t.Fatal(err)
	}
	testutil.WriteTree(t, iroot, map[string]string{
		"proc/sys/kernel/osrelease": "6.1.0-28-amd64\n",
		"proc/mounts":               "rpool/ROOT/debian / zfs rw,relatime,xattr,noacl 0 0\n",
		"etc/default/grub":          "GRUB_CMDLINE_LINUX=\"quiet\"\nGRUB_CMDLINE_LINUX=\"quiet zfs.zfs_arc_min=134217728\"\n",
		"boot/initrd.img-6.1.0-28-amd64": string(testutil.Gzip(t, testutil.Newc(
			testutil.CpioMember{Name: "usr/lib/modules/6.1.0-28-amd64/extra/zfs.ko", Body: "x"},
			testutil.CpioMember{Name: "etc/modprobe.d/zfs.conf", Body: "options zfs zfs_arc_max=1073741824\n"}))),
	})
	for _, args := range [][]string{{"--arc-max", "768M", "--format", "json"}, {"--arc-max", "768M", "--check", "--format", "json"}} {
		var out bytes.Buffer
		if code := run(context.Background(), append([]string{"--root", iroot}, args...), &out, io.Discard); code != exitOK && code != exitDrift {
			t.Fatalf("%q on a host with an image: exit %d", args, code)
		}
		var doc any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		flatten("", doc, paths)
	}
	// The version-dependent keys (recommendation.unsupported and
	// load_order_risk) come from the composed roots of version-rules.txtar.
	ar, err := txtar.ParseFile(filepath.Join("testdata", "script", "version-rules.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	vroot, tree := t.TempDir(), map[string]string{}
	for _, f := range ar.Files {
		tree[f.Name] = string(f.Data)
	}
	testutil.WriteTree(t, vroot, tree)
	// config.nixos: the same snapshot with a NixOS os-release.
	nix := filepath.Join(vroot, "nixos")
	if err := os.CopyFS(nix, os.DirFS(filepath.Join("..", "..", "testdata", "snapshots", "zfs-2.1.11-capped"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nix, "etc", "os-release"), []byte("ID=nixos\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for host, reserve := range map[string]string{"zol086": "14100M", "zol064": "2G", "nixos": "2G"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"--root", filepath.Join(vroot, host), "--reserve", reserve, "--format", "json"}, &out, io.Discard); code != 0 {
			t.Fatalf("%s: exit %d", host, code)
		}
		var doc any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		flatten("", doc, paths)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.TrimPrefix(string(b), "# exit 3\n"))
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		flatten("", doc, paths)
	}
	for p := range paths {
		leaf := p[strings.LastIndex(p, ".")+1:]
		leaf = strings.TrimSuffix(leaf, "[]")
		if strings.HasPrefix(p, "zfs.params.") || strings.HasPrefix(p, "window.counters.") {
			continue // keyed by parameter or counter name, listed in the prose
		}
		if !named[leaf] {
			t.Errorf("golden key %s is not in the README's JSON section", p)
		}
	}
	for n := range named {
		if strings.Contains(n, ".") && !paths[n] && !paths[n+"[]"] {
			t.Errorf("README names %s, which no golden document has", n)
		}
	}
}

// flatten adds the dotted path of every key under v ("a.b[].c").
func flatten(prefix string, v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			flatten(p, e, out)
		}
	case []any:
		out[prefix+"[]"] = true
		for _, e := range v {
			flatten(prefix+"[]", e, out)
		}
	}
}
