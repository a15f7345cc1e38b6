package meminfo

import (
	"os"
	"path/filepath"

	"github.com/prometheus/procfs"
)

// maxRead bounds how much of a /proc memory file is read: a real
// /proc/meminfo is under 2 KiB, /proc/pressure/memory under 200 bytes.
const maxRead = 256 << 10

// withProcfs hands bytes read under the root (confined by internal/rootfs)
// to procfs, the parser of these files: procfs only reads paths, so the
// bytes go to a private temporary directory laid out as /proc, never back
// to the root. name is the path under proc, such as "meminfo".
func withProcfs(name string, data []byte, parse func(procfs.FS) error) error {
	dir, err := os.MkdirTemp(bridgeParent(), "arcadvise-procfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	fsys, err := procfs.NewFS(dir)
	if err != nil {
		return err
	}
	return parse(fsys)
}

// bridgeParent is where the private directory goes: /dev/shm (memory) when
// there is one, where creating and removing it costs microseconds, else the
// temporary directory.
func bridgeParent() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}
