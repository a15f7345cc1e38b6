package modprobe

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Dirs are the modprobe.d directories in kmod's precedence order: a file
// name in an earlier directory hides the same name in a later one.
var Dirs = []string{
	"/etc/modprobe.d",
	"/run/modprobe.d",
	"/usr/local/lib/modprobe.d",
	"/usr/lib/modprobe.d",
	"/lib/modprobe.d",
}

// ModprobeConf is module-init-tools' configuration file, which kmod no
// longer reads: zfs options there are reported, not applied.
const ModprobeConf = "/etc/modprobe.conf"

// BackupSuffix ends the name of the copy Write keeps of a file it
// replaces. The name does not end in ".conf", so modprobe never reads it.
const BackupSuffix = ".arcadvise-bak"

// maxScan bounds how much of a file that modprobe does not read (wrong
// suffix, hidden) is read to look for zfs options.
const maxScan = 1 << 20

// Config is the zfs module configuration as modprobe will apply it at the
// next load of the module.
type Config struct {
	// Files are the files modprobe reads, as the admin knows them, in the
	// order it reads them.
	Files []string
	// Settings are the zfs options in the order the kernel applies them:
	// files first, then the kernel command line. The last one of a
	// parameter wins.
	Settings []Setting
	// Warnings name files and lines that do not do what they seem to.
	Warnings []Warning
	// Cmdline is /proc/cmdline as read (this package is its one reader),
	// for the other parameters other parts of arcadvise look at.
	Cmdline string

	fsys  *rootfs.FS // nil for LoadFiles: no edit can be planned
	tree  tree
	files []*confFile // the files in Files, same order
}

type confFile struct {
	name     string // base name
	path     string // admin path: directory as listed + name
	resolved string // admin path with symlinks resolved inside root
	regular  bool   // a regular file once symlinks are followed
	dir      bool   // a directory once symlinks are followed: kmod skips it
	mode     fs.FileMode
	data     []byte
	parsed   *parsed
}

// Cmdline is a kernel command line the next boot takes from a
// configuration file (internal/nextboot reads them): its zfs.* words
// override modprobe.d at that boot, as /proc/cmdline's do at this one.
type Cmdline struct {
	Path string // the file, e.g. /etc/default/grub
	Line int    // the line that sets it
	Text string // the command line, as the boot loader passes it
}

// Load reads the modprobe.d directories and proc/cmdline under the root
// the way modprobe does when it loads zfs (kmod's directories:
// libkmod/libkmod.c default_config_paths), then the next boot's command
// lines, next, in the order given. Missing directories and a missing
// proc/cmdline are not errors; a file modprobe would read but that
// cannot be read is, and so is configuration past the budget (maxTotal
// bytes, maxSettings zfs options, maxFiles files): a real host has a few
// kilobytes.
//
// The zfs.* words of /proc/cmdline and of next come after the files, in
// that order, as kmod_config_new appends the command line's options after
// the files': a setting of the next boot's command line wins over one of
// /proc/cmdline (this boot's) and over every file.
func Load(fsys *rootfs.FS, next ...Cmdline) (*Config, error) {
	c := &Config{fsys: fsys, tree: rootTree{fsys}}
	dashdash, err := c.load()
	if err != nil {
		return nil, err
	}
	cmd, err := c.read(CmdlinePath, maxConf)
	switch {
	case err == nil:
		c.Cmdline = strings.TrimSpace(string(cmd))
		c.addCmdline(parseCmdline(cmd, CmdlinePath, 0), dashdash)
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, err
	}
	for _, n := range next {
		c.addCmdline(parseCmdline([]byte(n.Text), n.Path, n.Line), dashdash)
	}
	c.Warnings = append(c.Warnings, overrides(c.Settings)...)
	return c, nil
}

// File is a modprobe configuration file held in memory: one that an
// initramfs image carries (internal/initramfs).
type File struct {
	// Path is where kmod finds it: a directory of Dirs and the name, or
	// ModprobeConf.
	Path string
	// Resolved is the file that holds the content, after symlinks: two
	// Paths with the same Resolved are one file (/lib -> /usr/lib).
	Resolved string
	// Regular is false for an entry that is not a regular file once
	// symlinks are followed (a link to nothing): it has no Data.
	Regular bool
	Data    []byte
}

// LoadFiles reads files as Load reads a root's modprobe.d directories,
// with the same ordering, hiding, parsing and budget, and no kernel
// command line: the configuration a zfs module loaded from an initramfs
// image finds there. where names the files' container in errors (the
// image). Only the files under Dirs, and ModprobeConf, are looked at.
// The Config cannot plan an edit.
func LoadFiles(where string, files []File) (*Config, error) {
	c := &Config{tree: newMemTree(where, files)}
	if _, err := c.load(); err != nil {
		return nil, err
	}
	c.Warnings = append(c.Warnings, overrides(c.Settings)...)
	return c, nil
}

// load lists, orders, reads and parses the files, as kmod does, and
// returns the file whose "--" word ended the parameters ("" if none).
func (c *Config) load() (dashdash string, err error) {
	budget := int64(maxTotal)
	byName := map[string]*confFile{}
	type hiddenFile struct {
		f  *confFile
		by string
	}
	var hidden []hiddenFile
	hiddenSeen := map[string]bool{}
	var unread []*confFile
	seen := 0
	for _, dir := range Dirs {
		names, err := c.tree.names(dir)
		if err != nil {
			return "", err
		}
		for _, name := range names {
			if strings.HasPrefix(name, ".") {
				continue // kmod skips dot files; arcadvise's temp files are among them
			}
			if seen++; seen > maxFiles {
				return "", c.overBudget(dir, fmt.Sprintf("more than %d files", maxFiles))
			}
			f := &confFile{name: name, path: path.Join(dir, name)}
			c.tree.stat(f)
			if f.dir {
				continue // kmod skips directories
			}
			if !isConfName(name) {
				if _, bk := backupNumber(name, strings.SplitN(name, BackupSuffix, 2)[0]); f.regular && !bk && !hiddenSeen[f.resolved] {
					unread = append(unread, f)
					hiddenSeen[f.resolved] = true
				}
				continue
			}
			if first, ok := byName[name]; ok {
				// On merged-/usr systems /lib is /usr/lib: the same file
				// listed twice is not hidden by itself.
				if f.resolved == "" || f.resolved != first.resolved && !hiddenSeen[f.resolved] {
					hidden = append(hidden, hiddenFile{f, first.path})
					hiddenSeen[f.resolved] = true
				}
				continue
			}
			byName[name] = f
			c.files = append(c.files, f)
		}
	}
	// kmod keeps the list sorted with strcmp, i.e. by bytes.
	sort.Slice(c.files, func(i, j int) bool { return c.files[i].name < c.files[j].name })

	settings := 0
	for _, f := range c.files {
		c.Files = append(c.Files, f.path)
		if f.regular {
			data, err := c.read(f.resolved, budget)
			if err != nil {
				return "", err
			}
			f.data = data
			budget -= int64(len(data))
		}
		f.parsed = parse(f.path, f.data)
		if settings += len(f.parsed.words); settings > maxSettings {
			return "", c.overBudget(f.path, fmt.Sprintf("more than %d zfs options", maxSettings))
		}
		c.Warnings = append(c.Warnings, f.parsed.warnings...)
		for _, w := range f.parsed.words {
			if dashdash != "" {
				c.Warnings = append(c.Warnings, Warning{Path: w.Path, Line: w.Line,
					Msg: fmt.Sprintf("%s is ignored by the kernel: it comes after the '--' word in %s", w.text(), dashdash)})
				continue
			}
			c.Settings = append(c.Settings, w.Setting)
		}
		if f.parsed.dashdash && dashdash == "" {
			dashdash = f.path
		}
	}

	// A file reached through a symlink that modprobe reads is read.
	read := map[string]bool{}
	for _, f := range c.files {
		read[f.resolved] = true
	}
	var late []Warning
	for _, h := range hidden {
		if read[h.f.resolved] {
			continue
		}
		if s, ok := c.scanZFS(h.f); ok {
			late = append(late, Warning{Path: h.f.path, Line: s[0].Line,
				Msg: fmt.Sprintf("not read by modprobe: hidden by %s (same file name in a directory read first); it sets %s", h.by, list(s))})
		}
	}
	for _, f := range unread {
		if read[f.resolved] {
			continue
		}
		if s, ok := c.scanZFS(f); ok {
			msg := "not read by modprobe: file name does not end in .conf"
			if strings.HasSuffix(f.name, ".alias") {
				msg = "read only by kmod 32 and older: kmod 33 and later ignore .alias files; rename it to end in .conf"
			}
			late = append(late, Warning{Path: f.path, Line: s[0].Line, Msg: msg + "; it sets " + list(s)})
		}
	}
	sort.SliceStable(late, func(i, j int) bool { return late[i].Path < late[j].Path })

	if s, ok := c.scanZFS(&confFile{path: ModprobeConf, resolved: ModprobeConf, regular: true}); ok {
		late = append(late, Warning{Path: ModprobeConf, Line: s[0].Line,
			Msg: "not read by modprobe: kmod reads only the modprobe.d directories (module-init-tools read this file; libkmod/libkmod.c default_config_paths); move it to /etc/modprobe.d/zfs.conf; it sets " + list(s)})
	}
	c.Warnings = append(c.Warnings, late...)
	return dashdash, nil
}

// addCmdline adds a kernel command line's zfs words after what is there.
func (c *Config) addCmdline(words []word, dashdash string) {
	for _, w := range words {
		if dashdash != "" {
			c.Warnings = append(c.Warnings, Warning{Path: w.Path, Line: w.Line,
				Msg: fmt.Sprintf("zfs.%s is ignored by the kernel: it comes after the '--' word in %s", w.text(), dashdash)})
			continue
		}
		if msg := valueProblem(w.Setting, w.hasValue); msg != "" {
			c.Warnings = append(c.Warnings, Warning{Path: w.Path, Line: w.Line, Msg: "zfs." + msg})
		}
		c.Settings = append(c.Settings, w.Setting)
	}
}

func isConfName(name string) bool {
	return len(name) >= 6 && strings.HasSuffix(name, ".conf")
}

// scanZFS reads a file modprobe does not read and returns the zfs options
// it would set if it were read.
func (c *Config) scanZFS(f *confFile) ([]Setting, bool) {
	if !f.regular {
		return nil, false
	}
	data, err := c.tree.prefix(f.resolved, maxScan)
	if err != nil {
		return nil, false
	}
	s := parse(f.path, data).settings()
	return s, len(s) > 0
}

func list(s []Setting) string {
	var parts []string
	for i, x := range s {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more", len(s)-i))
			break
		}
		parts = append(parts, x.String())
	}
	return strings.Join(parts, ", ")
}

func (w word) text() string {
	if !w.hasValue {
		return w.Param
	}
	return w.Param + "=" + w.Value
}

// parseCmdline is ParseCmdline on bytes, keeping whether a word had '=',
// with the settings' Path and Line set to where the command line comes
// from.
func parseCmdline(data []byte, where string, line int) []word {
	if len(data) > kcmdlineSize-1 {
		data = data[:kcmdlineSize-1]
	}
	var out []word
	for _, o := range kcmdlineOptions(data) {
		if normParam(o.module) != "zfs" {
			continue
		}
		args, _ := splitKernelArgs(o.option)
		for _, a := range args {
			if !a.hasValue && a.param == "--" {
				break
			}
			out = append(out, word{
				Setting:  Setting{Param: a.param, Value: a.value, Path: where, Line: line, Source: FromCmdline},
				hasValue: a.hasValue,
			})
		}
	}
	return out
}

// overrides warns about every setting a later one of the same parameter
// replaces. Words that are not parameter names (the "#" of a trailing
// comment, say) are left to the warning that already explains them.
func overrides(settings []Setting) []Warning {
	last := map[string]int{}
	for i, s := range settings {
		if isParamName(s.Param) {
			last[normParam(s.Param)] = i
		}
	}
	var out []Warning
	for i, s := range settings {
		if !isParamName(s.Param) {
			continue
		}
		j := last[normParam(s.Param)]
		if j == i {
			continue
		}
		win := settings[j]
		var msg string
		switch {
		case s.Source == FromCmdline && win.Source == FromCmdline && s.Path != win.Path:
			// This boot's command line and the next boot's, or two
			// sources of the next boot's: the same value is one setting
			// seen twice.
			if sameValue(s.Value, win.Value) {
				continue
			}
			msg = fmt.Sprintf("%s differs from %s at %s, a source of the next boot's command line, which arcadvise takes as the one that applies", s, win, win.Where())
		case win.Source == FromCmdline:
			msg = fmt.Sprintf("%s is overridden by %s on the kernel command line (%s)", s, win, win.Where())
		default:
			msg = fmt.Sprintf("%s is set twice: overridden by %s at %s (the last one wins)", s, win, win.Where())
		}
		out = append(out, Warning{Path: s.Path, Line: s.Line, Msg: msg})
	}
	return out
}

func isParamName(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Effective returns the setting of param that the kernel applies last, the
// command line included.
func (c *Config) Effective(param string) (Setting, bool) {
	for i := len(c.Settings) - 1; i >= 0; i-- {
		if SameParam(c.Settings[i].Param, param) {
			return c.Settings[i], true
		}
	}
	return Setting{}, false
}

// EffectiveFile is Effective ignoring the kernel command line: the setting
// of param the modprobe.d files leave in effect.
func (c *Config) EffectiveFile(param string) (Setting, bool) {
	for i := len(c.Settings) - 1; i >= 0; i-- {
		s := c.Settings[i]
		if s.Source == FromFile && SameParam(s.Param, param) {
			return s, true
		}
	}
	return Setting{}, false
}

// All returns every setting of param in the order the kernel applies them.
func (c *Config) All(param string) []Setting {
	var out []Setting
	for _, s := range c.Settings {
		if SameParam(s.Param, param) {
			out = append(out, s)
		}
	}
	return out
}

// read reads the regular file at the admin path p, at most max bytes (and
// never more than one file's maxConf).
func (c *Config) read(p string, max int64) ([]byte, error) {
	if max > maxConf {
		max = maxConf
	}
	b, err := c.tree.readFile(p, max)
	if errors.Is(err, rootfs.ErrTooLarge) && max < maxConf {
		return nil, c.overBudget(p, fmt.Sprintf("more than %d bytes in all", maxTotal))
	}
	return b, err
}

// Bounds of what Load reads. kmod reads lines of at most 4 KiB; a real
// file is a few hundred bytes and a real host's modprobe.d a few kilobytes
// (Debian 12 with zfs: 9 files, 3 KiB), so these leave room for any host
// while an odd tree fails fast and small.
const (
	maxConf     = 1 << 20 // one file, or /proc/cmdline
	maxTotal    = 4 << 20 // all the files modprobe reads together
	maxSettings = 4096    // zfs options across all files
	maxFiles    = 4096    // directory entries across the directories
)

// ErrBudget is wrapped when the configuration is past Load's bounds.
var ErrBudget = errors.New("past arcadvise's budget for modprobe configuration")

func (c *Config) overBudget(p, what string) error {
	return fmt.Errorf("%s: %w: %s (a real host has a few kilobytes; is this the right --root?)", c.tree.path(p), ErrBudget, what)
}

// fileNamed returns the file modprobe reads under base name name.
func (c *Config) fileNamed(name string) *confFile {
	for _, f := range c.files {
		if f.name == name {
			return f
		}
	}
	return nil
}
