// Package container tells whether arcadvise runs inside a container, the
// way systemd-detect-virt --container does (src/basic/virt.c,
// detect_container): /run/systemd/container, written by systemd-nspawn
// and by systemd inside LXC and podman; container= in the environment of
// PID 1; /run/.containerenv (podman) and /.dockerenv (docker); and, for
// LXC without systemd, /proc/meminfo mounted from lxcfs. Inside one,
// arcstats and /sys/module/zfs are the host's while /proc/meminfo may be
// the container's (lxcfs), and the host's modprobe.d is not the
// container's /etc: the numbers mean nothing and nothing may be written.
package container

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"

	"github.com/arcadvise/arcadvise/internal/osinfo"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Where is the container arcadvise runs in, if any.
type Where struct {
	Kind     string // "lxc", "docker", "podman", "systemd-nspawn", ...; "" on a host
	Evidence string // the file that says so, as a path under the root
}

// In reports whether a container was found.
func (w Where) In() bool { return w.Kind != "" }

// maxRead bounds each file read: a word. PID 1's environment is bounded
// by maxEnviron, the kernel's default limit on arguments and environment
// together (a quarter of an 8 MiB stack).
const (
	maxRead    = 64 << 10
	maxEnviron = 2 << 20
)

// Detect looks under the root; mounts is its mount table. A file that
// cannot be read for lack of permission (PID 1's environment, for a
// non-root user) is skipped, as systemd does.
func Detect(fsys *rootfs.FS, mounts osinfo.Mounts) (Where, error) {
	read := func(rel string, max int64) ([]byte, error) {
		b, err := fsys.ReadFile(rel, max)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, nil
		}
		return b, err
	}
	b, err := read("run/systemd/container", maxRead)
	if err != nil {
		return Where{}, err
	}
	if k := strings.TrimSpace(string(b)); k != "" {
		return Where{Kind: k, Evidence: "/run/systemd/container"}, nil
	}
	b, err = read("proc/1/environ", maxEnviron)
	if err != nil {
		return Where{}, err
	}
	if k := ParseEnviron(bytes.NewReader(b)); k != "" {
		return Where{Kind: k, Evidence: "/proc/1/environ container=" + k}, nil
	}
	for _, f := range []struct{ rel, kind string }{
		{"run/.containerenv", "podman"},
		{".dockerenv", "docker"},
	} {
		if _, err := fsys.Lstat(f.rel); err == nil {
			return Where{Kind: f.kind, Evidence: "/" + f.rel}, nil
		}
	}
	if mounts.Has("fuse.lxcfs", "/proc/meminfo") {
		return Where{Kind: "lxc", Evidence: "/proc/meminfo mounted from lxcfs (/proc/mounts)"}, nil
	}
	return Where{}, nil
}

// ParseEnviron returns the value of container= in a NUL-separated
// environment block (/proc/PID/environ), or "".
func ParseEnviron(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxEnviron))
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok {
			return string(v)
		}
	}
	return ""
}
