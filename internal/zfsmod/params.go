package zfsmod

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// ParamDir is the directory of the module's parameters, relative to a root.
const ParamDir = "sys/module/zfs/parameters"

// The ARC sizing parameters arcadvise reads and may set.
const (
	ArcMax     = "zfs_arc_max"
	ArcMin     = "zfs_arc_min"
	ArcSysFree = "zfs_arc_sys_free"
	// ShrinkerLimit (2.2.0+) caps what one kernel shrinker call may evict;
	// 0 removes the cap, the workaround for #16313/#16909 on 2.2.
	ShrinkerLimit = "zfs_arc_shrinker_limit"
	// MetaLimitPercent (0.7–2.1): 100 triggers #14054 on 2.1.0–2.1.6.
	MetaLimitPercent = "zfs_arc_meta_limit_percent"
	// PCPercent (0.7.0+, default 0): above 0 it triggers PR #17334 before
	// 2.2.8 and 2.3.3.
	PCPercent = "zfs_arc_pc_percent"
	// MaxRecordsize is the largest block a dataset may use (16 MiB on
	// 64-bit from 2.2.0, dsl_dataset.c): from 2.2.9 and 2.3.0 the ARC may
	// run this far above its target c before an allocation waits for
	// eviction (arc_is_overflowing in module/zfs/arc.c).
	MaxRecordsize = "zfs_max_recordsize"
)

// ArcParam is one of the ARC sizing parameters arcadvise reports on and
// may set, with the arcstats field that shows what the module has in
// effect.
type ArcParam struct{ Name, Field string }

// ArcParams are those parameters, in the order reports list them: the one
// list (apply, report and modprobe take it from here).
var ArcParams = []ArcParam{{ArcMax, "c_max"}, {ArcMin, "c_min"}, {ArcSysFree, "arc_sys_free"}}

// Names are the parameters Read reads, when the module has them.
var Names = []string{ArcMax, ArcMin, ArcSysFree, ShrinkerLimit, MetaLimitPercent, PCPercent, MaxRecordsize}

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
		if len(t) > 40 {
			t = t[:40] + "…"
		}
		return 0, fmt.Errorf("malformed value %q: want a decimal number", t)
	}
	return v, nil
}

// Read reads the module version and the ARC parameters under root. A missing
// version file is not an error (the Version stays unknown, for snapshots
// that did not record it); a missing parameter is reported as not Present.
func Read(fsys *rootfs.FS) (State, error) {
	st := State{Params: make(map[string]Param, len(Names))}
	vp := fsys.Path(VersionPath)
	if b, err := fsys.ReadFile(VersionPath, maxParam); err == nil {
		v, err := ParseVersion(bytes.NewReader(b))
		if err != nil {
			return st, fmt.Errorf("%s:%w", vp, err)
		}
		st.Version = v
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	for _, name := range Names {
		rel := ParamDir + "/" + name
		b, err := fsys.ReadFile(rel, maxParam)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return st, err
		}
		v, err := ParseParam(b)
		if err != nil {
			return st, fmt.Errorf("%s:1: %w", fsys.Path(rel), err)
		}
		st.Params[name] = Param{Value: v, Present: true}
	}
	return st, nil
}

// maxParam bounds a read of the version or a parameter: a few bytes.
const maxParam = 4 << 10

// WriteParam writes value to the module parameter name under root, as
// "echo VALUE > /sys/module/zfs/parameters/NAME" does: the file must exist
// and be a regular file (sysfs attributes are), reached without leaving the
// root (internal/rootfs).
func WriteParam(fsys *rootfs.FS, name string, value uint64) error {
	if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
		return fmt.Errorf("invalid parameter name %q", name)
	}
	err := fsys.WriteExisting(ParamDir+"/"+name, []byte(strconv.FormatUint(value, 10)+"\n"))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (is the zfs module loaded?)", err)
	}
	return err
}
