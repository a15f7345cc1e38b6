package zfsmod

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParamDir is the directory of the module's parameters, relative to a root.
const ParamDir = "sys/module/zfs/parameters"

// The ARC sizing parameters arcadvise reads and may set.
const (
	ArcMax     = "zfs_arc_max"
	ArcMin     = "zfs_arc_min"
	ArcSysFree = "zfs_arc_sys_free"
)

// Param is one parameter file's value. Present is false when the running
// module has no such parameter (or the snapshot did not record it).
type Param struct {
	Value   uint64
	Present bool
}

// State is what /sys/module/zfs says about the loaded module.
type State struct {
	Version Version
	Params  map[string]Param // keyed by parameter name
}

// Param returns the named parameter.
func (s State) Param(name string) Param { return s.Params[name] }

// ParseParam reads a parameter file's content: a decimal number and a
// newline, as the kernel prints a u64/ulong parameter.
func ParseParam(b []byte) (uint64, error) {
	t := string(bytes.TrimSpace(b))
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed value %q: want a decimal number", t)
	}
	return v, nil
}

// Read reads the module version and the ARC parameters under root. A missing
// version file is not an error (the Version stays unknown, for snapshots
// that did not record it); a missing parameter is reported as not Present.
func Read(root string) (State, error) {
	st := State{Params: make(map[string]Param, 3)}
	vp := filepath.Join(root, VersionPath)
	if b, err := os.ReadFile(vp); err == nil {
		v, err := ParseVersion(bytes.NewReader(b))
		if err != nil {
			return st, fmt.Errorf("%s:%w", vp, err)
		}
		st.Version = v
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("reading module version: %w", err)
	}
	for _, name := range []string{ArcMax, ArcMin, ArcSysFree} {
		p := filepath.Join(root, ParamDir, name)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("reading module parameter: %w", err)
		}
		v, err := ParseParam(b)
		if err != nil {
			return st, fmt.Errorf("%s:1: %w", p, err)
		}
		st.Params[name] = Param{Value: v, Present: true}
	}
	return st, nil
}

// WriteParam sets a module parameter at runtime, as
// `echo N > /sys/module/zfs/parameters/NAME` does. The write succeeds
// whether or not the module honours the value: the module only warns
// "ignoring tunable" in the kernel log (zfs-internals.md §2.3), so callers
// must read c_max back from arcstats.
func WriteParam(root, name string, value uint64) error {
	if strings.ContainsAny(name, "/\x00") || name == "" {
		return fmt.Errorf("invalid parameter name %q", name)
	}
	p := filepath.Join(root, ParamDir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("writing %s: %w (is the zfs module loaded?)", p, err)
		}
		return fmt.Errorf("writing %s: %w", p, err)
	}
	_, werr := f.WriteString(strconv.FormatUint(value, 10) + "\n")
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("writing %s: %w", p, werr)
	}
	if cerr != nil {
		return fmt.Errorf("writing %s: %w", p, cerr)
	}
	return nil
}
