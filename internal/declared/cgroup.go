package declared

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// cgroupRoot is where the cgroup v2 hierarchy is mounted.
const cgroupRoot = "sys/fs/cgroup"

// readSmall reads a one-line kernel file as bytes; data is its content.
func readSmall(r io.Reader, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSmall+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxSmall {
		return "", fmt.Errorf("%s: more than %d bytes: not a cgroup file", name, maxSmall)
	}
	return string(b), nil
}

// ParseMemoryMin reads a cgroup's memory.min: a number of bytes, or "max"
// (all memory protected), on one line, as the kernel prints it
// (Documentation/admin-guide/cgroup-v2.rst, "memory.min"). name is the
// file's path, for messages.
func ParseMemoryMin(r io.Reader, name string) (bytes uint64, unlimited bool, err error) {
	s, err := readSmall(r, name)
	if err != nil {
		return 0, false, err
	}
	v, ok := strings.CutSuffix(s, "\n")
	if !ok || strings.Contains(v, "\n") {
		return 0, false, lineError(name, 1, "want one line, a number of bytes or max: %q", clip(s))
	}
	if v == "max" {
		return 0, true, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || v[0] == '+' {
		return 0, false, lineError(name, 1, "%q is not a number of bytes or max", clip(v))
	}
	return n, false, nil
}

// ParseCgroupEvents reads a cgroup's cgroup.events and reports whether it
// is populated: "1 if the cgroup or its descendants contains any live
// processes" (Documentation/admin-guide/cgroup-v2.rst, "cgroup.events").
func ParseCgroupEvents(r io.Reader, name string) (populated bool, err error) {
	s, err := readSmall(r, name)
	if err != nil {
		return false, err
	}
	for n, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if k != "populated" {
			continue
		}
		switch v {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return false, lineError(name, n+1, "populated %q: want 0 or 1", clip(v))
	}
	return false, fmt.Errorf("%s: no populated line: not a cgroup.events file", name)
}

// readOpt reads rel under the root, at most max bytes; a missing file is
// (nil, false, nil).
func readOpt(fsys *rootfs.FS, rel string, max int64) ([]byte, bool, error) {
	b, err := fsys.ReadFile(rel, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// populated reads the cgroup.events of the cgroup rel (under
// /sys/fs/cgroup); a cgroup that does not exist is not populated, and ok
// is false.
func populated(fsys *rootfs.FS, rel string) (pop, ok bool, err error) {
	f := path.Join(cgroupRoot, rel, "cgroup.events")
	b, ok, err := readOpt(fsys, f, maxSmall)
	if err != nil || !ok {
		return false, false, err
	}
	pop, err = ParseCgroupEvents(bytes.NewReader(b), fsys.Path(f))
	return pop, true, err
}

// ReadCgroups walks the cgroup v2 hierarchy at /sys/fs/cgroup and returns
// a Guest for each populated cgroup whose memory.min is set: the kernel
// ignores the memory.min of a cgroup with no live process
// (cgroup-v2.rst, "memory.min"), and a cgroup with none has no populated
// descendant either, so its subtree is skipped. systemd writes
// MemoryMin= there (systemd.resource-control(5)). How nested protections
// add up is Count's business. The walk is bounded: at most 16384 cgroups
// and 32 levels, only real directories (no symlink) are entered. A host
// without a cgroup v2 hierarchy there (cgroup v1: no memory.min) has none.
func ReadCgroups(fsys *rootfs.FS) ([]Guest, error) {
	if _, ok, err := readOpt(fsys, cgroupRoot+"/cgroup.controllers", maxSmall); err != nil || !ok {
		return nil, err
	}
	type item struct {
		rel   string
		depth int
		// bound is the lowest memory.min among the ancestors below the
		// root (boundAt: which), when one is known.
		bound   uint64
		boundAt string
	}
	var out []Guest
	stack := []item{{rel: ""}}
	seen := 0 // cgroups found so far, each visited once
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		dir := path.Join(cgroupRoot, it.rel)
		bound, boundAt := it.bound, it.boundAt // for the children
		if it.rel != "" {
			pop, ok, err := populated(fsys, it.rel)
			if err != nil {
				return nil, err
			}
			if !ok || !pop {
				continue // not a cgroup, or no live process below
			}
			f := path.Join(dir, "memory.min")
			b, ok, err := readOpt(fsys, f, maxSmall)
			if err != nil {
				return nil, err
			}
			if ok {
				v, unl, err := ParseMemoryMin(bytes.NewReader(b), fsys.Path(f))
				if err != nil {
					return nil, err
				}
				if v > 0 || unl {
					g := Guest{Source: Cgroup, ID: it.rel, Name: path.Base(it.rel),
						Path: "/" + f, DeclaredBytes: v, Unlimited: unl, Running: true, Cgroup: it.rel}
					if it.boundAt != "" && (unl || v > it.bound) {
						g.AncestorMin, g.AncestorMinBytes = it.boundAt, it.bound
					}
					out = append(out, g)
				}
				if !unl && (boundAt == "" || v < bound) {
					bound, boundAt = v, it.rel
				}
			}
		}
		des, err := readDir(fsys, dir, maxCgroups+512)
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			if !de.IsDir() {
				continue
			}
			if seen++; seen > maxCgroups {
				return nil, fmt.Errorf("%s: %w: more than %d cgroups; give the reservation with --reserve",
					fsys.Path(cgroupRoot), ErrTooMany, maxCgroups)
			}
			if it.depth+1 > maxCgroupDepth {
				return nil, fmt.Errorf("%s: cgroups nested deeper than %d levels", fsys.Path(path.Join(dir, de.Name())), maxCgroupDepth)
			}
			stack = append(stack, item{path.Join(it.rel, de.Name()), it.depth + 1, bound, boundAt})
		}
	}
	return out, nil
}
