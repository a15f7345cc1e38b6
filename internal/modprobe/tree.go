package modprobe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"syscall"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// tree is where load finds the modprobe.d directories: a root directory
// (Load) or the files of an initramfs image (LoadFiles). Both go through
// the one ordering, hiding and parsing of Config.load.
type tree interface {
	// names lists the entries of dir (one of Dirs), dot files included;
	// a missing directory has none.
	names(dir string) ([]string, error)
	// stat fills f's resolved path and kind from its admin path.
	stat(f *confFile)
	// readFile reads the regular file at the admin path p, at most max
	// bytes: past them, an error wrapping rootfs.ErrTooLarge.
	readFile(p string, max int64) ([]byte, error)
	// prefix reads at most max bytes of the regular file at p.
	prefix(p string, max int64) ([]byte, error)
	// path names p for messages.
	path(p string) string
}

// rootTree is a root directory, confined (internal/rootfs).
type rootTree struct{ fsys *rootfs.FS }

// resolve resolves the absolute admin path p inside the root as the
// kernel would if the root were "/" (internal/rootfs): the result is an
// admin path.
func (t rootTree) resolve(p string) (string, error) {
	res, err := t.fsys.Resolve(p)
	if err != nil {
		return "", err
	}
	return "/" + res, nil
}

// names lists dir. ReadDir follows its symlinks inside the root as
// Resolve does, so a directory that is not there costs one openat2.
func (t rootTree) names(dir string) ([]string, error) {
	des, err := t.fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	out := make([]string, len(des))
	for i, de := range des {
		out[i] = de.Name()
	}
	return out, nil
}

func (t rootTree) stat(f *confFile) {
	res, err := t.resolve(f.path)
	if err != nil {
		return
	}
	f.resolved = res
	if fi, err := t.fsys.Lstat(res); err == nil {
		f.dir = fi.IsDir()
		f.regular = fi.Mode().IsRegular()
		f.mode = fi.Mode().Perm()
	}
}

func (t rootTree) readFile(p string, max int64) ([]byte, error) {
	return t.fsys.ReadFile(p, max)
}

func (t rootTree) prefix(p string, max int64) ([]byte, error) {
	fh, err := t.fsys.OpenRegular(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, max))
}

func (t rootTree) path(p string) string { return t.fsys.Path(p) }

// memTree is files held in memory: an initramfs image's.
type memTree struct {
	where string
	dirs  map[string][]string // directory -> entry names, sorted
	files map[string]*File    // admin path -> file
	data  map[string][]byte   // admin path or resolved path -> content
}

func newMemTree(where string, files []File) *memTree {
	t := &memTree{where: where, dirs: map[string][]string{}, files: map[string]*File{}, data: map[string][]byte{}}
	for i := range files {
		f := &files[i]
		if _, dup := t.files[f.Path]; dup {
			continue
		}
		t.files[f.Path] = f
		t.dirs[path.Dir(f.Path)] = append(t.dirs[path.Dir(f.Path)], path.Base(f.Path))
		if f.Regular {
			t.data[f.Path] = f.Data
			if f.Resolved != "" {
				t.data[f.Resolved] = f.Data
			}
		}
	}
	for _, names := range t.dirs {
		sort.Strings(names)
	}
	return t
}

func (t *memTree) names(dir string) ([]string, error) { return t.dirs[dir], nil }

func (t *memTree) stat(f *confFile) {
	m := t.files[f.path]
	if m == nil {
		return
	}
	f.resolved = m.Resolved
	if f.resolved == "" {
		f.resolved = m.Path
	}
	f.regular = m.Regular
	f.mode = 0o644
}

func (t *memTree) readFile(p string, max int64) ([]byte, error) {
	d, ok := t.data[p]
	if !ok {
		return nil, fmt.Errorf("%s: %w", t.path(p), fs.ErrNotExist)
	}
	if int64(len(d)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", t.path(p), rootfs.ErrTooLarge, max)
	}
	return d, nil
}

func (t *memTree) prefix(p string, max int64) ([]byte, error) {
	d, ok := t.data[p]
	if !ok {
		return nil, fmt.Errorf("%s: %w", t.path(p), fs.ErrNotExist)
	}
	if int64(len(d)) > max {
		d = d[:max]
	}
	return d, nil
}

// path is "IMAGE:PATH", the file inside its image.
func (t *memTree) path(p string) string { return t.where + ":" + p }

// sameValue reports whether two values of a parameter are the same to the
// kernel: the same number, or the same text when one is not a number.
func sameValue(a, b string) bool {
	x, errA := ParseValue(a)
	y, errB := ParseValue(b)
	if errA == nil && errB == nil {
		return x == y
	}
	return a == b
}
