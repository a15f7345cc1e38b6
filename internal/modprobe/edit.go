package modprobe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/zfsmod"

	"github.com/aymanbagabas/go-udiff"
)

// DefaultFile is where new zfs options go when no file sets them yet.
const DefaultFile = "/etc/modprobe.d/zfs.conf"

// etcDir is the directory for the admin's own files; the other modprobe.d
// directories belong to packages or are generated at boot.
const etcDir = "/etc/modprobe.d"

// ErrRefused is wrapped by the errors of Plan, Validate and Write that
// refuse an edit (as opposed to failing to do it).
var ErrRefused = errors.New("refused")

type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrRefused }

func refuse(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// Change sets one zfs parameter to a value.
type Change struct {
	Param string
	Value uint64
}

// Edit is the planned new content of one modprobe.d file.
type Edit struct {
	// Path is the file as the admin knows it.
	Path string
	// RealPath is the file written: Path under the root, its directory's
	// symlinks resolved inside the root. The file itself is never
	// followed: a symlink there is replaced by a regular file.
	RealPath string
	// Old is the current content (nil when the file does not exist; for
	// a symlink, what it leads to); New the planned content. New equals
	// Old when nothing needs to change.
	Old, New []byte
	// Exists says whether Path exists now.
	Exists bool
	// Link is where Path points when it is a symlink ("" otherwise): the
	// write puts a regular file in its place and leaves the file it
	// leads to (a package's, in /usr/lib/modprobe.d) as it is.
	Link string
	// Mode is the permission of the file after the write: the current
	// one, or 0644 for a new file.
	Mode os.FileMode
	// From names the file the new content copies when Path does not exist
	// yet: a file of the same name in a package directory that the new
	// /etc/modprobe.d file will hide. Empty otherwise.
	From string
	// Why tells why Path was chosen.
	Why string

	fsys     *rootfs.FS
	dir      string // Path's directory, symlinks resolved, relative to the root
	resolved string // the file written, as an admin path ("/" + dir + name)
	base     []byte // what New was derived from: Old, or From's content
	// Immutable: the file has chattr +i or +a; Validate refuses it.
	immutable bool
	// edits turn base into New: the diff is made from them, not by
	// comparing the two (which costs a pass over every line of both).
	edits []udiff.Edit
}

// Plan works out the edit that makes every change effective through the
// modprobe.d files (the kernel command line, which overrides them, is left
// to the caller: see Effective):
//
//   - A change whose value the files already leave in effect (compared as
//     numbers, so 0x200000000 equals 8589934592) needs nothing.
//   - All other changes go in one file: the file that comes last in
//     modprobe's order among those that leave one of them in effect today,
//     so that the new values win over every other file (in the common case
//     that is the file that sets zfs_arc_max today). When no file sets one
//     of them: the file that sets zfs_arc_max, else zfs_arc_min, else
//     another changed parameter, else /etc/modprobe.d/zfs.conf.
//   - A file outside /etc/modprobe.d belongs to a package (or to /run) and
//     would be overwritten; the edit then creates /etc/modprobe.d/NAME, a
//     copy of it with the change, which hides it (modprobe.d(5)). The same
//     holds when /etc/modprobe.d/zfs.conf is new but a package ships a
//     zfs.conf: the copy keeps its options.
//   - In that file the value of the last occurrence of the parameter is
//     replaced in place; the parameter's earlier occurrences in the same
//     file are removed from their lines, and a line left with no
//     parameters at all is removed (commenting it out would also drop the
//     other parameters of a shared line, and a trailing "# old" would be
//     passed to the module). Every other byte is kept. A parameter the
//     file does not set is appended as "options zfs PARAM=VALUE", one line
//     per change in the order given, after a newline if the file lacks a
//     final one.
//
// The result is checked by reading all files again with the new content:
// Plan fails rather than return an edit that would not take effect or
// would change any other parameter.
//
// When Path is a symlink (to a package's file in /usr/lib/modprobe.d, say),
// the edit replaces the symlink with a regular file holding what it led to
// plus the change, and never writes through it: the package's file would
// be lost at its next upgrade.
func (c *Config) Plan(changes []Change) (*Edit, error) {
	if len(changes) == 0 {
		return nil, errors.New("plan: no changes")
	}
	if c.fsys == nil {
		return nil, errors.New("plan: the configuration is not a root's (an initramfs image's copy is rebuilt, not edited)")
	}
	for i, ch := range changes {
		if !isParamName(ch.Param) {
			return nil, fmt.Errorf("plan: %q is not a parameter name", ch.Param)
		}
		for _, prev := range changes[:i] {
			if SameParam(prev.Param, ch.Param) {
				return nil, fmt.Errorf("plan: %s is changed twice", ch.Param)
			}
		}
	}
	for _, f := range c.files {
		if f.parsed.unbalanced > 0 {
			return nil, refuse("%s:%d: unbalanced '\"' in the zfs options: the kernel would read the options after it as one value; fix it by hand first", f.path, f.parsed.unbalanced)
		}
	}

	var needed []Change
	for _, ch := range changes {
		if s, ok := c.EffectiveFile(ch.Param); ok && valueIs(s.Value, ch.Value) {
			continue
		}
		needed = append(needed, ch)
	}

	target, why := c.chooseTarget(needed, changes)
	e := &Edit{Why: why}
	switch {
	case target == nil:
		e.Path = DefaultFile
	case path.Dir(target.path) == etcDir:
		e.Path = target.path
	default:
		e.Path = path.Join(etcDir, target.name)
		e.Why += fmt.Sprintf("; %s is outside %s (a package's or generated at boot), so a copy of it with the same name in %s carries the change and hides it", path.Dir(target.path), etcDir, etcDir)
	}
	e.fsys = c.fsys
	dir, err := c.fsys.Resolve(path.Dir(e.Path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Dir(e.Path), err)
	}
	e.dir = dir
	e.resolved = "/" + path.Join(dir, path.Base(e.Path))
	e.RealPath = c.fsys.Path(e.resolved)
	e.Mode = 0o644
	fi, err := c.fsys.Lstat(e.resolved)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		if e.Link, err = c.fsys.Root().Readlink(strings.TrimPrefix(e.resolved, "/")); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
		if e.Link == "/dev/null" {
			return nil, refuse("refusing to edit %s: it is a symlink to /dev/null, which masks the package's file of that name; replace the link with a file of your own by hand if you mean to", e.Path)
		}
		old, err := c.read(e.Path, maxConf)
		switch {
		case err == nil:
			e.Old = old
		case errors.Is(err, fs.ErrNotExist):
			// A dangling link: modprobe reads nothing there.
		default:
			return nil, err
		}
		e.Exists, e.base = true, e.Old
		e.Why = strings.TrimPrefix(e.Why+"; ", "; ") + fmt.Sprintf("%s is a symlink to %s: a regular file with its content and the change takes its place in %s, and %s is left as it is", e.Path, e.Link, path.Dir(e.Path), e.Link)
	case err == nil && !fi.Mode().IsRegular():
		return nil, refuse("refusing to edit %s: %s is not a regular file (%s)", e.Path, e.resolved, rootfs.Kind(fi.Mode()))
	case err == nil:
		fh, err := c.fsys.OpenRegular(e.resolved)
		if err != nil {
			return nil, err
		}
		old, err := io.ReadAll(io.LimitReader(fh, maxConf+1))
		e.immutable = rootfs.Immutable(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
		if len(old) > maxConf {
			return nil, fmt.Errorf("%s: %w: more than %d bytes", c.fsys.Path(e.resolved), rootfs.ErrTooLarge, maxConf)
		}
		e.Exists, e.Old, e.base, e.Mode = true, old, old, fi.Mode().Perm()
	case errors.Is(err, fs.ErrNotExist):
		if f := c.fileNamed(path.Base(e.Path)); f != nil && f.path != e.Path {
			e.From, e.base = f.path, f.data
		}
	default:
		return nil, fmt.Errorf("%s: %w", e.Path, err)
	}
	if e.Why == "" {
		e.Why = "no file sets " + strings.Join(paramNames(changes), " or ")
		if e.Exists {
			e.Why += "; " + e.Path + " is the default place"
		} else {
			e.Why += ": new file " + e.Path
		}
	}

	if len(needed) == 0 {
		e.New = e.Old
		return e, nil
	}
	e.New, e.edits, err = editFile(e.Path, e.base, needed)
	if err != nil {
		return nil, err
	}
	if err := c.verify(e, changes); err != nil {
		return nil, err
	}
	return e, nil
}

func paramNames(changes []Change) []string {
	var out []string
	for _, ch := range changes {
		out = append(out, ch.Param)
	}
	return out
}

// chooseTarget picks the file to edit (nil: none exists) and says why.
func (c *Config) chooseTarget(needed, changes []Change) (*confFile, string) {
	best, bestIdx := Setting{}, -1
	for _, ch := range needed {
		s, ok := c.EffectiveFile(ch.Param)
		if !ok {
			continue
		}
		if i := c.fileIndex(s.Path); i > bestIdx {
			best, bestIdx = s, i
		}
	}
	if bestIdx >= 0 {
		return c.files[bestIdx], fmt.Sprintf("%s sets %s today (line %d), and no file read after it sets a changed parameter", best.Path, best.Param, best.Line)
	}
	order := []string{zfsmod.ArcMax, zfsmod.ArcMin}
	for _, ch := range changes {
		order = append(order, ch.Param)
	}
	for _, p := range order {
		if s, ok := c.EffectiveFile(p); ok {
			return c.files[c.fileIndex(s.Path)], fmt.Sprintf("%s sets %s today (line %d)", s.Path, s.Param, s.Line)
		}
	}
	return nil, ""
}

func (c *Config) fileIndex(p string) int {
	for i, f := range c.files {
		if f.path == p {
			return i
		}
	}
	return -1
}

func valueIs(s string, v uint64) bool {
	n, err := ParseValue(s)
	return err == nil && n == v
}

// Snippet is the modprobe.d text that sets the changes, one line each, in
// the order given: "options zfs zfs_arc_max=8589934592\n". Values are plain
// decimal with no leading zero, which every kernel reads the same way.
func Snippet(changes []Change) string {
	var b strings.Builder
	for _, ch := range changes {
		b.WriteString("options zfs ")
		b.WriteString(ch.Param)
		b.WriteByte('=')
		b.WriteString(strconv.FormatUint(ch.Value, 10))
		b.WriteByte('\n')
	}
	return b.String()
}

// editFile applies changes to one file's content as Plan describes, and
// checks the result: the last occurrence of each changed parameter has the
// new value and every other zfs parameter is set in the same order to the
// same values as before.
func editFile(path string, content []byte, changes []Change) ([]byte, []udiff.Edit, error) {
	p := parse(path, content)
	type span struct {
		start, end int
		repl       string
	}
	var spans []span
	var appends []Change
	removed := map[int]bool{} // word index
	for _, ch := range changes {
		var occ []int
		for i, w := range p.words {
			if SameParam(w.Param, ch.Param) {
				occ = append(occ, i)
			}
		}
		if len(occ) == 0 {
			appends = append(appends, ch)
			continue
		}
		last := p.words[occ[len(occ)-1]]
		if last.hasValue && valueIs(last.Value, ch.Value) {
			continue
		}
		spans = append(spans, span{last.fileStart, last.fileEnd, last.Param + "=" + strconv.FormatUint(ch.Value, 10)})
		for _, i := range occ[:len(occ)-1] {
			removed[i] = true
		}
	}
	for _, l := range p.lines {
		all := len(l.words) > 0
		for _, wi := range l.words {
			all = all && removed[wi]
		}
		if all {
			spans = append(spans, span{l.ll.start, l.ll.end, ""})
			continue
		}
		for _, wi := range l.words {
			if removed[wi] {
				w := p.words[wi]
				spans = append(spans, span{w.prevEnd, w.fileEnd, ""})
			}
		}
	}
	// One pass over the content: spans do not overlap.
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	out := make([]byte, 0, len(content)+64)
	at := 0
	for _, s := range spans {
		out = append(append(out, content[at:s.start]...), s.repl...)
		at = s.end
	}
	out = append(out, content[at:]...)
	edits := make([]udiff.Edit, 0, len(spans)+1)
	for _, s := range spans {
		edits = append(edits, udiff.Edit{Start: s.start, End: s.end, New: s.repl})
	}
	if len(appends) > 0 {
		tail := len(out)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		if eachLine(out, func(*logicalLine) {}) {
			out = append(out, '\n') // end a continuation left open at EOF
		}
		out = append(out, Snippet(appends)...)
		edits = append(edits, udiff.Edit{Start: len(content), End: len(content), New: string(out[tail:])})
	}
	if err := checkEdit(path, content, out, changes); err != nil {
		return nil, nil, err
	}
	return out, edits, nil
}

// checkEdit verifies editFile's result (see there).
func checkEdit(path string, before, after []byte, changes []Change) error {
	changed := func(param string) bool {
		for _, ch := range changes {
			if SameParam(ch.Param, param) {
				return true
			}
		}
		return false
	}
	others := func(data []byte) ([]string, *parsed) {
		p := parse(path, data)
		var out []string
		for _, w := range p.words {
			if !changed(w.Param) {
				out = append(out, w.text())
			}
		}
		return out, p
	}
	ob, _ := others(before)
	oa, pa := others(after)
	if strings.Join(ob, "\x00") != strings.Join(oa, "\x00") || len(ob) != len(oa) {
		return refuse("refusing to edit %s: the edit would change other zfs options (%s became %s); edit it by hand", path, strings.Join(ob, " "), strings.Join(oa, " "))
	}
	for _, ch := range changes {
		var last *word
		for i := range pa.words {
			if SameParam(pa.words[i].Param, ch.Param) {
				last = &pa.words[i]
			}
		}
		if last == nil || !last.hasValue || !valueIs(last.Value, ch.Value) {
			return refuse("refusing to edit %s: %s=%d would not take effect in it (a '--' word or broken quoting?); edit it by hand", path, ch.Param, ch.Value)
		}
	}
	return nil
}

// verify reads every file again as if the edit were written and checks
// that each change is what the files leave in effect.
func (c *Config) verify(e *Edit, changes []Change) error {
	type file struct {
		name, path string
		data       []byte
	}
	name := path.Base(e.Path)
	var files []file
	found := false
	for _, f := range c.files {
		d := f.data
		if f.name == name {
			found = true
			files = append(files, file{name, e.Path, e.New})
			continue
		}
		if f.resolved == e.resolved {
			d = e.New
		}
		files = append(files, file{f.name, f.path, d})
	}
	if !found {
		files = append(files, file{name, e.Path, e.New})
		sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	}
	var settings []Setting
	why := ""
	for _, f := range files {
		p := parse(f.path, f.data)
		settings = append(settings, p.settings()...)
		if p.dashdash {
			why = "; the kernel ignores every option after the '--' word in " + f.path
			break
		}
	}
	sim := &Config{Settings: settings}
	for _, ch := range changes {
		s, ok := sim.EffectiveFile(ch.Param)
		if !ok || !valueIs(s.Value, ch.Value) {
			got := "no value"
			if ok {
				got = s.String() + " from " + s.Where()
			}
			return refuse("refusing to edit %s: %s=%d would not take effect, modprobe would still apply %s%s; edit by hand", e.Path, ch.Param, ch.Value, got, why)
		}
	}
	return nil
}

// Changed reports whether the edit writes anything.
func (e *Edit) Changed() bool {
	if !e.Exists {
		return len(e.New) > 0
	}
	return !bytes.Equal(e.Old, e.New)
}

// Diff is the edit as a unified diff (diff -u format, paths as the admin
// knows them), or "" when nothing changes. A new file diffs from
// /dev/null, or from the package file it copies (From).
func (e *Edit) Diff() string {
	if !e.Changed() {
		return ""
	}
	// The content the edits apply to: the file, or the package file a new
	// one copies, or nothing.
	oldLabel, old := e.Path, string(e.base)
	if !e.Exists {
		oldLabel = "/dev/null"
		if e.From != "" {
			oldLabel = e.From
		}
	}
	newLabel := e.Path + " (arcadvise)"
	u, err := udiff.ToUnified(oldLabel, newLabel, old, lineEdits(e.base, e.edits), udiff.DefaultContextLines)
	if err != nil {
		// A line diff the library rejects: show the whole file replaced.
		u, _ = udiff.ToUnified(oldLabel, newLabel, old, []udiff.Edit{{Start: 0, End: len(old), New: string(e.New)}}, udiff.DefaultContextLines)
	}
	return u
}

// lineEdits widens byte edits (sorted, not overlapping) to whole lines and
// joins those that touch, so that the diff shows a change as diff -u does:
// the old lines, then the new.
func lineEdits(content []byte, edits []udiff.Edit) []udiff.Edit {
	var out []udiff.Edit
	var b strings.Builder
	start, end, at := -1, -1, 0 // the cluster's lines [start, end); content[:at] is in b
	flush := func() {
		if start >= 0 {
			b.Write(content[at:end])
			out = append(out, udiff.Edit{Start: start, End: end, New: b.String()})
			b.Reset()
		}
	}
	for _, e := range edits {
		a := bytes.LastIndexByte(content[:e.Start], '\n') + 1
		z := e.End
		if z == e.Start || content[z-1] != '\n' {
			if k := bytes.IndexByte(content[z:], '\n'); k >= 0 {
				z += k + 1
			} else {
				z = len(content)
			}
		}
		if start < 0 || a > end {
			flush()
			start, end, at = a, z, a
		}
		end = max(end, z)
		b.Write(content[at:e.Start])
		b.WriteString(e.New)
		at = e.End
	}
	flush()
	return out
}

// Validate checks that Write may write the edit: Path's directory must
// still resolve where it did and be one of the modprobe.d directories, the
// file must still be what Plan saw (a regular file, the same symlink, or
// nothing), and not immutable. Refusals wrap ErrRefused.
func (e *Edit) Validate() error {
	dir, err := e.fsys.Resolve(path.Dir(e.Path))
	if err != nil {
		return fmt.Errorf("%s: %w", path.Dir(e.Path), err)
	}
	if dir != e.dir {
		return refuse("refusing to write %s: its directory now leads to /%s, not /%s as when it was read; run again", e.Path, dir, e.dir)
	}
	inside := false
	for _, d := range Dirs {
		if rd, err := e.fsys.Resolve(d); err == nil && rd == e.dir {
			inside = true
			break
		}
	}
	if !inside {
		return refuse("refusing to write %s: its directory leads to /%s, outside the modprobe.d directories", e.Path, e.dir)
	}
	fi, err := e.fsys.Lstat(e.resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if e.Exists {
			return refuse("refusing to write %s: it was removed since it was read; run again", e.Path)
		}
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0 && e.Link == "", fi.Mode().IsRegular() && e.Link != "", !e.Exists:
		return refuse("refusing to write %s: it changed since it was read; run again", e.Path)
	case fi.Mode()&fs.ModeSymlink == 0 && !fi.Mode().IsRegular():
		return refuse("refusing to write %s: %s is not a regular file (%s)", e.Path, e.resolved, rootfs.Kind(fi.Mode()))
	}
	if e.immutable {
		return &ImmutableError{Path: e.Path}
	}
	return nil
}

// Writable checks, before anything is written, that the file's directory
// can be written (not a read-only mount): a preview does not ask.
func (e *Edit) Writable() error {
	if err := e.fsys.Writable(e.dir); err != nil {
		return fmt.Errorf("refusing to write %s: %w", e.Path, err)
	}
	return nil
}

// ImmutableError refuses a file with the immutable or append-only
// attribute, which not even root can replace.
type ImmutableError struct{ Path string }

func (e *ImmutableError) Error() string {
	return "refusing to write " + e.Path + ": it has the immutable or append-only attribute (lsattr shows i or a)"
}
func (e *ImmutableError) Is(target error) bool { return target == ErrRefused }

// Write applies the edit atomically, confined to the root, through the
// directory's descriptor (rootfs.Dir, the one door for arcadvise's
// writes), and loses nothing:
//
//   - Before the first byte is written it calls gate, which may still stop
//     the write (an interrupted run): after that the write completes or
//     is undone, whatever happens.
//   - It takes an exclusive flock on the directory, then reads the file
//     again and compares it with what Plan read: a file changed since (by
//     an admin, or by another arcadvise that wrote first) is refused
//     (ErrRefused), and the other change is kept.
//   - The current content is kept as NAME.arcadvise-bak.N (a symlink is
//     kept as the same symlink), N one more than the highest there, taken
//     with link(2) or symlink(2), which never replace a file.
//     NAME.arcadvise-bak.1 is the content before arcadvise first wrote and
//     is never removed; of the others the newest BackupsKept stay. N runs
//     up to MaxBackupNumber; a name with a larger number is not arcadvise's
//     and is left alone, so a planted name cannot steer the numbering.
//   - The new content is staged in a temporary file
//     ".NAME.arcadvise-<16 hex>.tmp" (modprobe skips dot files; only such
//     names are swept, when a killed write left them over a minute ago)
//     with the old file's permissions, owner and extended attributes
//     (ACLs, SELinux label), synced; then compared and exchanged with the
//     file in one step, with no fsync between the comparison and the
//     exchange (rootfs.Staged.Commit, which also undoes the exchange when
//     an edit landed just before it). The directory is synced last.
//
// It writes nothing and reports wrote=false when the file already holds the
// new content. backup is the admin path of the copy, "" for a new file.
func Write(e *Edit, gate func() error) (backup string, wrote bool, err error) {
	if !e.Changed() {
		return "", false, nil
	}
	if err := e.Validate(); err != nil {
		return "", false, err
	}
	name := path.Base(e.resolved)
	d, err := e.fsys.OpenDir(e.dir)
	if errors.Is(err, fs.ErrNotExist) {
		// No /etc/modprobe.d yet: creating it is the first write.
		if err = gate(); err != nil {
			return "", false, err
		}
		gate = func() error { return nil }
		if err = e.fsys.MkdirAll(e.dir, 0o755); err == nil {
			d, err = e.fsys.OpenDir(e.dir)
		}
	}
	if err != nil {
		return "", false, err
	}
	defer d.Close()
	unlock, err := d.Lock(lockWait)
	if err != nil {
		return "", false, err
	}
	defer unlock()

	cur, err := d.Read(name, maxConf)
	if err != nil {
		return "", false, err
	}
	want := rootfs.State{Exists: e.Exists, Symlink: e.Link != "", Target: e.Link}
	if !want.Symlink {
		want.Data = e.Old
	}
	if !cur.Symlink && cur.Exists && bytes.Equal(cur.Data, e.New) {
		return "", false, nil
	}
	if !cur.Equal(want) {
		return "", false, refuse("refusing to write %s: it changed since it was read (another arcadvise, or an edit): nothing written; run again", e.Path)
	}
	if err := gate(); err != nil {
		return "", false, err
	}
	removeStaleTemps(d, name)
	pruneBackups(d, name) // what a killed write left beyond the retention
	attrs := rootfs.Attrs{Perm: 0o644, UID: -1, GID: -1}
	var old *os.File
	if cur.Exists && !cur.Symlink {
		attrs.Perm = cur.Mode
		if os.Geteuid() == 0 {
			attrs.UID, attrs.GID = cur.UID, cur.GID
		}
		if old, err = d.OpenRegular(name); err != nil {
			return "", false, err
		}
		defer old.Close()
		attrs.XattrsFrom = old
	}
	var bk string
	if cur.Exists {
		if bk, err = saveBackup(d, name, cur, attrs); err != nil {
			return "", false, fmt.Errorf("keeping %s: %w", e.Path, err)
		}
		backup = path.Join(path.Dir(e.Path), bk)
	}
	staged, err := d.Stage(name, e.New, attrs)
	if err == nil {
		if err = staged.Commit(name, &want, maxConf); err != nil {
			staged.Discard()
		}
	}
	if err != nil {
		if bk != "" {
			d.Remove(bk) // a failed write leaves the backups as they were
		}
		if errors.Is(err, rootfs.ErrChanged) {
			return "", false, &refusal{err.Error()}
		}
		return "", false, fmt.Errorf("writing %s: %w", e.Path, err)
	}
	pruneBackups(d, name)
	if err := d.Sync(); err != nil {
		return backup, true, fmt.Errorf("syncing %s: %w", path.Dir(e.RealPath), err)
	}
	return backup, true, nil
}

// lockWait is how long Write waits for another arcadvise writing the same
// directory.
const lockWait = 5 * time.Second

// BackupsKept is how many backups Write keeps besides NAME.arcadvise-bak.1.
const BackupsKept = 5

// MaxBackupNumber is the largest N of NAME.arcadvise-bak.N that arcadvise
// makes or prunes: past it a write is refused (after a million writes, or a
// planted name), and larger numbers are not arcadvise's.
const MaxBackupNumber = 999999

// backupNumber returns N for NAME.arcadvise-bak.N of base.
func backupNumber(name, base string) (int, bool) {
	rest, ok := strings.CutPrefix(name, base+BackupSuffix+".")
	if !ok || rest == "" || len(rest) > 6 || strings.Trim(rest, "0123456789") != "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n <= MaxBackupNumber
}

// backups lists the backup numbers of base in d, in increasing order.
func backups(d *rootfs.Dir, base string) []int {
	names, err := d.Names()
	if err != nil {
		return nil
	}
	var ns []int
	for _, n := range names {
		if k, ok := backupNumber(n, base); ok {
			ns = append(ns, k)
		}
	}
	sort.Ints(ns)
	return ns
}

func backupName(base string, n int) string { return fmt.Sprintf("%s%s.%d", base, BackupSuffix, n) }

// saveBackup keeps cur as the next NAME.arcadvise-bak.N and returns that
// name: a symlink as the same symlink, a file staged (synced, with its
// attributes) and linked to the name.
func saveBackup(d *rootfs.Dir, base string, cur rootfs.State, attrs rootfs.Attrs) (string, error) {
	var staged *rootfs.Staged
	if !cur.Symlink {
		var err error
		if staged, err = d.Stage(base, cur.Data, attrs); err != nil {
			return "", err
		}
		defer staged.Discard()
	}
	next := 1
	if ns := backups(d, base); len(ns) > 0 {
		next = ns[len(ns)-1] + 1
	}
	for ; ; next++ {
		if next > MaxBackupNumber {
			return "", fmt.Errorf("%s: more than %d backups: remove old %s%s.N files", d.Path(base), MaxBackupNumber, base, BackupSuffix)
		}
		name := backupName(base, next)
		var err error
		if cur.Symlink {
			err = d.Symlink(cur.Target, name)
		} else {
			err = d.Link(staged.Name, name)
		}
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

// pruneBackups removes the backups of base beyond NAME.arcadvise-bak.1 and
// the newest BackupsKept.
func pruneBackups(d *rootfs.Dir, base string) {
	ns := backups(d, base)
	for i, n := range ns {
		if n == 1 || i >= len(ns)-BackupsKept {
			continue
		}
		d.Remove(backupName(base, n))
	}
}

// staleAge is how old one of arcadvise's temporary files must be before
// Write takes it for the leftover of a write that was killed; a write lasts
// milliseconds.
const staleAge = time.Minute

// removeStaleTemps removes what killed writes left next to base: only
// names rootfs.TempName makes, only regular files, only older than staleAge.
// modprobe never reads them (they start with "."); this only tidies up.
// Failures are ignored: a leftover is harmless.
func removeStaleTemps(d *rootfs.Dir, base string) {
	names, err := d.Names()
	if err != nil {
		return
	}
	for _, n := range names {
		if !rootfs.IsTempName(n, base) {
			continue
		}
		if fi, err := d.Lstat(n); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleAge {
			d.Remove(n)
		}
	}
}
