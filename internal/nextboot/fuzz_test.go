package nextboot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseGrub: any grub defaults file parses or fails with its name and
// line, and what it returns is one of the two variables, with a line in
// the file.
func FuzzParseGrub(f *testing.F) {
	f.Add(debianGrub, arcCfg)
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := ParseGrub([]NamedReader{nr("a", a), nr("b", b)})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "a:") && !strings.HasPrefix(err.Error(), "b:") {
				t.Fatalf("error without its file: %v", err)
			}
			return
		}
		if len(got) > 2 {
			t.Fatalf("%d sources", len(got))
		}
		for _, s := range got {
			if (s.Kind != GrubLinux && s.Kind != GrubDefault) || (s.Path != "a" && s.Path != "b") || s.Line < 1 {
				t.Fatalf("bad source %+v", s)
			}
			if n := strings.Count(map[string]string{"a": a, "b": b}[s.Path], "\n") + 1; s.Line > n {
				t.Fatalf("line %d of a %d-line file", s.Line, n)
			}
		}
	})
}

// FuzzParseBLS: any entry parses (or is too large), the command line has
// no runs of spaces, and the line is an options line of the file.
func FuzzParseBLS(f *testing.F) {
	f.Add(rhel8Entry, "root=/dev/sda1 zfs.zfs_arc_max=1")
	f.Fuzz(func(t *testing.T, entry, kernelopts string) {
		s, err := ParseBLS("e", strings.NewReader(entry), map[string]string{"kernelopts": kernelopts})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.Cmdline, "  ") || strings.TrimSpace(s.Cmdline) != s.Cmdline {
			t.Fatalf("cmdline %q", s.Cmdline)
		}
		if s.Line > 0 {
			l := strings.Split(entry, "\n")[s.Line-1]
			if !strings.HasPrefix(strings.TrimSpace(l), "options") {
				t.Fatalf("line %d is %q", s.Line, l)
			}
		}
	})
}

// FuzzParseGrubenv: any block parses or is refused with a line number.
func FuzzParseGrubenv(f *testing.F) {
	f.Add(rhelGrubenv)
	f.Fuzz(func(t *testing.T, data string) {
		env, err := ParseGrubenv(strings.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "not a grubenv block") {
				t.Fatalf("error %v", err)
			}
			return
		}
		for k := range env {
			if k == "" || strings.HasPrefix(k, "#") || strings.Contains(k, "=") {
				t.Fatalf("key %q", k)
			}
		}
	})
}

// FuzzParseKernelCmdline: the command line is the file's words, one space
// apart.
func FuzzParseKernelCmdline(f *testing.F) {
	f.Add([]byte("root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := ParseKernelCmdline("c", data)
		if s.Cmdline != strings.Join(strings.Fields(string(data)), " ") || s.Line != 1 {
			t.Fatalf("%+v", s)
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz when ARCADVISE_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ARCADVISE_WRITE_SEEDS") != "1" {
		return
	}
	write := func(name string, seeds [][]any) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, args := range seeds {
			body := "go test fuzz v1\n"
			for _, a := range args {
				switch v := a.(type) {
				case string:
					body += fmt.Sprintf("string(%q)\n", v)
				case []byte:
					body += fmt.Sprintf("[]byte(%q)\n", v)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzParseGrub", [][]any{
		{debianGrub, cloudimgCfg}, {debianGrub, arcCfg},
		{"GRUB_CMDLINE_LINUX='a b'\"c\\\"d\"\\ e", "GRUB_CMDLINE_LINUX+=\" x\""},
		{"X=1\nGRUB_CMDLINE_LINUX=\"${X} ${UNSET:-y} $(cat /z) `echo q`\"", "if true; then GRUB_CMDLINE_LINUX_DEFAULT=b; fi\nunset GRUB_CMDLINE_LINUX"},
		{"export GRUB_CMDLINE_LINUX=$((1+2)) A[1]=2", "GRUB_CMDLINE_LINUX=\"unterminated"},
		{"f() { GRUB_CMDLINE_LINUX=x; }\nf\n. /etc/other", "GRUB_CMDLINE_LINUX=${GRUB_CMDLINE_LINUX/a/b}"},
	})
	write("FuzzParseBLS", [][]any{
		{fedoraEntry, ""}, {rhel8Entry, "root=/dev/sda1 zfs.zfs_arc_max=1"}, {sdbootEntry, ""},
		{"options ${kernelopts}$kernelopts $\n\toptions  a\n#options b", "x  y"},
	})
	write("FuzzParseGrubenv", [][]any{
		{rhelGrubenv}, {"# GRUB Environment Block\na=b\\\\\nc=d\\\ne\n"}, {"# GRUB Environment Block\nbad\n"},
	})
	write("FuzzParseKernelCmdline", [][]any{
		{[]byte("root=ZFS=rpool/ROOT/pve-1 boot=zfs\n")}, {[]byte("a\n\tb  # c\n\n")}, {[]byte("")},
	})
}
