package container

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/testutil"
)

// detect reads the mount table the way a run does, then detects.
func detect(t *testing.T, root string) (Where, error) {
	t.Helper()
	fsys := testutil.OpenRoot(t, root)
	m, err := osinfo.ReadMounts(fsys)
	if err != nil {
		return Where{}, err
	}
	return Detect(fsys, m)
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		kind     string
		evidence string
	}{
		{"a host", map[string]string{"proc/mounts": "/dev/vda / ext4 rw 0 0\n", "proc/1/environ": "HOME=/\x00TERM=linux\x00"}, "", ""},
		{"an empty root", nil, "", ""},
		{"systemd's own note", map[string]string{"run/systemd/container": "lxc\n"}, "lxc", "/run/systemd/container"},
		{"systemd's note wins", map[string]string{"run/systemd/container": "systemd-nspawn\n", ".dockerenv": ""}, "systemd-nspawn", "/run/systemd/container"},
		{"PID 1's environment", map[string]string{"proc/1/environ": "PATH=/bin\x00container=podman\x00HOME=/\x00"}, "podman", "/proc/1/environ container=podman"},
		{"podman's file", map[string]string{"run/.containerenv": "engine=\"podman-4.3\"\n"}, "podman", "/run/.containerenv"},
		{"docker's file", map[string]string{".dockerenv": ""}, "docker", "/.dockerenv"},
		{"lxcfs without systemd", map[string]string{"proc/mounts": "/dev/sda1 / ext4 rw 0 0\nlxcfs /proc/meminfo fuse.lxcfs rw,nosuid,nodev,relatime,user_id=0,group_id=0,allow_other 0 0\n"}, "lxc", "/proc/meminfo mounted from lxcfs (/proc/mounts)"},
		{"lxcfs elsewhere only", map[string]string{"proc/mounts": "lxcfs /var/lib/lxcfs fuse.lxcfs rw 0 0\n"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			testutil.WriteTree(t, root, tt.files)
			w, err := detect(t, root)
			if err != nil {
				t.Fatal(err)
			}
			if w.Kind != tt.kind || w.Evidence != tt.evidence || w.In() != (tt.kind != "") {
				t.Errorf("Detect = %+v, want kind %q from %q", w, tt.kind, tt.evidence)
			}
		})
	}
}

// A FIFO where systemd's note should be is an error, not a hang or a guess.
func TestDetectOddFile(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "run/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "run/systemd/container"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := detect(t, root); err == nil {
		t.Fatal("a FIFO as /run/systemd/container was accepted")
	}
}

func TestParseEnviron(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"container=lxc":                      "lxc",
		"A=1\x00container=docker\x00":        "docker",
		"A=container=no\x00B=2\x00":          "",
		"xcontainer=no\x00container=oci\x00": "oci",
	} {
		if got := ParseEnviron(strings.NewReader(in)); got != want {
			t.Errorf("ParseEnviron(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseEnviron(f *testing.F) {
	f.Add([]byte("PATH=/bin\x00container=podman\x00"))
	f.Add([]byte("container="))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := ParseEnviron(strings.NewReader(string(b)))
		if got != "" && !strings.Contains(string(b), "container="+got) {
			t.Errorf("ParseEnviron(%q) = %q, not in the input", b, got)
		}
	})
}
