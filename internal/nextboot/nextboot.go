// Package nextboot reads where the next boot's kernel command line comes
// from: /etc/default/grub and /etc/default/grub.d/*.cfg (GRUB_CMDLINE_LINUX
// and GRUB_CMDLINE_LINUX_DEFAULT), /etc/kernel/cmdline (systemd's
// kernel-install, proxmox-boot-tool), and the Boot Loader Specification
// entries (/boot/loader/entries/*.conf and the ESP's), with Fedora's
// grubenv variables ($kernelopts) expanded. A zfs.zfs_arc_* there
// overrides modprobe.d at the next boot even when /proc/cmdline does not
// have it yet.
//
// It returns raw command lines; which zfs.* parameters they set is the
// modprobe package's kernel command line parser's to say. Nothing is run:
// the grub defaults are shell, parsed with mvdan.cc/sh/v3 and expanded
// without executing anything (a command substitution is reported, not
// run).
package nextboot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// Kind says which mechanism a command line source feeds.
type Kind string

const (
	// GrubLinux is GRUB_CMDLINE_LINUX: every menu entry update-grub
	// writes, the recovery ones included (grub-common 2.06-13+deb12u2,
	// /etc/grub.d/10_linux:381 and :404).
	GrubLinux Kind = "grub-cmdline-linux"
	// GrubDefault is GRUB_CMDLINE_LINUX_DEFAULT: the normal entries only,
	// after GRUB_CMDLINE_LINUX (10_linux:381).
	GrubDefault Kind = "grub-cmdline-linux-default"
	// KernelCmdline is /etc/kernel/cmdline (or /usr/lib/kernel/cmdline):
	// what kernel-install writes into the entries it makes, and what
	// proxmox-boot-tool copies onto its ESPs.
	KernelCmdline Kind = "kernel-cmdline"
	// BLS is a Boot Loader Specification entry's options: what the boot
	// loader (systemd-boot, or GRUB's blscfg on Fedora and RHEL) passes.
	BLS Kind = "bls-entry"
)

// Source is one place the next boot's command line comes from.
type Source struct {
	Path    string // under the root, e.g. "/etc/default/grub.d/50-cloudimg-settings.cfg"
	Line    int    // the line that sets it (the last assignment; the first options line)
	Kind    Kind
	Cmdline string // the command line it contributes, expanded
	// Notes say what was not taken at face value: a command substitution
	// not run, an earlier assignment this one replaces, lines joined.
	Notes []string
}

// Bounds.
const (
	maxConfig  = 256 << 10 // a grub defaults file, a BLS entry, /etc/kernel/cmdline
	maxGrubenv = 64 << 10  // grubenv is one 1024-byte block
	maxFiles   = 256       // files in one directory (grub.d, loader/entries)
)

// Default paths.
var (
	GrubDefaults   = "/etc/default/grub"
	GrubDefaultsD  = "/etc/default/grub.d"
	KernelCmdlines = []string{"/etc/kernel/cmdline", "/usr/lib/kernel/cmdline"}
	// EntryDirs are the BLS entry directories: /boot (XBOOTLDR or the
	// ESP mounted there) and the ESP at /boot/efi or /efi.
	EntryDirs = []string{"/boot/loader/entries", "/boot/efi/loader/entries", "/efi/loader/entries"}
	// Grubenvs are where Fedora and RHEL keep grubenv (kernelopts);
	// /boot/grub2/grubenv is often a symlink to the ESP's.
	Grubenvs = []string{"/boot/grub2/grubenv", "/boot/grub/grubenv"}
	// ProxmoxBootUUIDs lists the ESPs proxmox-boot-tool keeps in sync.
	ProxmoxBootUUIDs = "/etc/kernel/proxmox-boot-uuids"
)

// ProxmoxBootTool says whether proxmox-boot-tool manages the boot: then
// a command line change (in /etc/kernel/cmdline, or /etc/default/grub on
// its GRUB ESPs) reaches the ESPs only with "proxmox-boot-tool refresh".
func ProxmoxBootTool(fsys *rootfs.FS) bool {
	fi, err := fsys.Stat(ProxmoxBootUUIDs)
	return err == nil && fi.Mode().IsRegular()
}

// Sources reads every command line source under the root. Missing files
// and directories are no source and no error.
func Sources(fsys *rootfs.FS) ([]Source, error) {
	var out []Source
	grub, err := readGrub(fsys)
	if err != nil {
		return nil, err
	}
	out = append(out, grub...)
	for _, p := range KernelCmdlines {
		data, err := fsys.ReadFile(p, maxConfig)
		if missing(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s := ParseKernelCmdline(p, data)
		if ProxmoxBootTool(fsys) && strings.Count(strings.TrimRight(string(data), "\n"), "\n") > 0 {
			s.Notes = append(s.Notes, "proxmox-boot-tool copies this file as it is into the entries' options line (zz-proxmox-boot: CMDLINE=\"$(cat /etc/kernel/cmdline)\"), so systemd-boot takes only its first line")
		}
		out = append(out, s)
		break // kernel-install reads the first that exists
	}
	env, err := readGrubenv(fsys)
	if err != nil {
		return nil, err
	}
	bls, err := readEntries(fsys, env)
	if err != nil {
		return nil, err
	}
	return append(out, bls...), nil
}

func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// readDir lists the regular files (symlinks followed inside the root)
// named *suffix in dir, in byte order, at most maxFiles.
func readDir(fsys *rootfs.FS, dir, suffix string) ([]string, error) {
	des, err := fsys.ReadDir(dir)
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		n := de.Name()
		if !strings.HasSuffix(n, suffix) || strings.HasPrefix(n, ".") {
			continue
		}
		fi, err := fsys.Stat(path.Join(dir, n))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		names = append(names, path.Join(dir, n))
	}
	if len(names) > maxFiles {
		return nil, fmt.Errorf("%s: more than %d %s files", fsys.Path(dir), maxFiles, suffix)
	}
	sort.Strings(names)
	return names, nil
}

// NamedReader is a file's content with its path, for ParseGrub.
type NamedReader struct {
	Path string
	R    io.Reader
}

func readGrub(fsys *rootfs.FS) ([]Source, error) {
	var files []NamedReader
	data, err := fsys.ReadFile(GrubDefaults, maxConfig)
	if err != nil && !missing(err) {
		return nil, err
	}
	if err == nil {
		files = append(files, NamedReader{GrubDefaults, strings.NewReader(string(data))})
	}
	// grub-mkconfig sources /etc/default/grub, then each
	// /etc/default/grub.d/*.cfg in glob order (grub-common
	// 2.06-13+deb12u2, /usr/sbin/grub-mkconfig:160-167); its #! is
	// /bin/sh, and dash sorts a glob by bytes.
	cfgs, err := readDir(fsys, GrubDefaultsD, ".cfg")
	if err != nil {
		return nil, err
	}
	for _, p := range cfgs {
		data, err := fsys.ReadFile(p, maxConfig)
		if err != nil {
			return nil, err
		}
		files = append(files, NamedReader{p, strings.NewReader(string(data))})
	}
	if len(files) == 0 {
		return nil, nil
	}
	srcs, err := ParseGrub(files)
	if err != nil {
		return nil, err
	}
	return srcs, nil
}

// grubVars are the variables whose final values ParseGrub reports.
var grubVars = []struct {
	name string
	kind Kind
}{
	{"GRUB_CMDLINE_LINUX", GrubLinux},
	{"GRUB_CMDLINE_LINUX_DEFAULT", GrubDefault},
}

type assignment struct {
	value string
	set   bool
	path  string
	line  int
	notes []string
}

// errCmdSubst stops the expansion of a word with a process substitution:
// arcadvise runs nothing.
var errCmdSubst = errors.New("a process substitution, not run")

// ParseGrub reads the grub defaults files as grub-mkconfig sources them,
// in the order given, and returns GRUB_CMDLINE_LINUX and
// GRUB_CMDLINE_LINUX_DEFAULT as they are after the last file: each with
// the file and line of its last assignment, and in Notes the assignments
// it replaced.
//
// Only plain assignments are evaluated (X=..., export X=..., unset X):
// quotes, backslash escapes and parameter expansions ($X, ${X}, ${X:-y}
// ...) as sh does, with the variables the files set before. A command
// substitution is not run: it stays in the value as written, with a note.
// Any other statement that assigns a GRUB_CMDLINE variable (inside an if,
// a loop, a function) is not evaluated and noted (a Source with the
// value so far, or an empty one). A syntax error is an error naming the file and line, as it
// makes grub-mkconfig fail too.
func ParseGrub(files []NamedReader) ([]Source, error) {
	vars := map[string]*assignment{}
	get := func(name string) string {
		if a := vars[name]; a != nil && a.set {
			return a.value
		}
		return ""
	}
	substituted := false
	cfg := &expand.Config{
		Env: expand.FuncEnviron(get),
		// A command substitution is not run: it stays in the value as
		// written, and the assignment is noted.
		CmdSubst: func(w io.Writer, cs *syntax.CmdSubst) error {
			substituted = true
			return syntax.NewPrinter().Print(w, cs)
		},
		ProcSubst: func(*syntax.ProcSubst) (string, error) { return "", errCmdSubst },
	}
	note := func(name, path string, line int, msg string) {
		a := vars[name]
		if a == nil {
			a = &assignment{path: path, line: line}
			vars[name] = a
		}
		a.notes = append(a.notes, msg)
	}
	parser := syntax.NewParser(syntax.KeepComments(false), syntax.Variant(syntax.LangBash))
	for _, f := range files {
		file, err := parser.Parse(io.LimitReader(f.R, maxConfig+1), f.Path)
		if err != nil {
			var pe syntax.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %s (grub-mkconfig fails on it too)", f.Path, pe.Pos.Line(), pe.Text)
			}
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		for _, st := range file.Stmts {
			line := int(st.Pos().Line())
			assigns, ok := plainAssigns(st)
			if !ok {
				if unset, ok := unsetNames(st); ok {
					for _, n := range unset {
						if a := vars[n]; a != nil {
							vars[n] = &assignment{path: f.Path, line: line, notes: append(a.notes, fmt.Sprintf("%s:%d: unset", f.Path, line))}
						}
					}
					continue
				}
				for _, n := range mentions(st) {
					note(n, f.Path, line, fmt.Sprintf("%s:%d: set in a statement that is not a plain assignment (a condition, a loop, a function, a command): not evaluated", f.Path, line))
				}
				continue
			}
			for _, as := range assigns {
				name := as.Name.Value
				prev := vars[name]
				a := &assignment{set: true, path: f.Path, line: int(as.Pos().Line())}
				if prev != nil {
					a.notes = append(a.notes, prev.notes...)
					if prev.set {
						a.notes = append(a.notes, fmt.Sprintf("replaces the value set at %s:%d", prev.path, prev.line))
					}
				}
				var val string
				switch {
				case as.Array != nil || as.Index != nil:
					a.notes = append(a.notes, fmt.Sprintf("%s:%d: an array assignment: not evaluated", f.Path, a.line))
				case as.Value == nil || as.Naked:
				default:
					substituted = false
					v, err := expand.Literal(cfg, unescapeLits(as.Value))
					if err != nil {
						v = wordText(as.Value)
						a.notes = append(a.notes, fmt.Sprintf("%s:%d: not expanded (%v): the value is shown as written", f.Path, a.line, err))
					} else if substituted {
						a.notes = append(a.notes, fmt.Sprintf("%s:%d: a command substitution, not run: it is left in the value as written", f.Path, a.line))
					}
					val = v
				}
				if as.Append {
					a.notes = append(a.notes, fmt.Sprintf("%s:%d: += is bash: grub-mkconfig runs /bin/sh, and where that is dash (Debian, Ubuntu) the line fails and the value stays as it was", f.Path, a.line))
					val = get(name) + val
				}
				a.value = val
				vars[name] = a
			}
		}
	}
	var out []Source
	for _, v := range grubVars {
		a := vars[v.name]
		if a == nil {
			continue
		}
		out = append(out, Source{Path: a.path, Line: a.line, Kind: v.kind, Cmdline: a.value, Notes: a.notes})
	}
	return out, nil
}

// plainAssigns returns the assignments of a statement that is only
// assignments: X=a Y=b, or export/readonly/declare X=a.
func plainAssigns(st *syntax.Stmt) ([]*syntax.Assign, bool) {
	if st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 {
		return nil, false
	}
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		if len(c.Args) == 0 && len(c.Assigns) > 0 {
			return c.Assigns, true
		}
	case *syntax.DeclClause:
		switch c.Variant.Value {
		case "export", "readonly", "declare", "typeset":
			var out []*syntax.Assign
			for _, a := range c.Args {
				if a.Name != nil && !a.Naked {
					out = append(out, a)
				}
			}
			return out, true
		}
	}
	return nil, false
}

// unsetNames returns the names of "unset X Y".
func unsetNames(st *syntax.Stmt) ([]string, bool) {
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) < 2 || c.Args[0].Lit() != "unset" {
		return nil, false
	}
	var names []string
	for _, w := range c.Args[1:] {
		if l := w.Lit(); l != "" && l != "-v" {
			names = append(names, l)
		}
	}
	return names, true
}

// mentions lists the GRUB_CMDLINE variables a statement assigns anywhere
// inside it.
func mentions(st *syntax.Stmt) []string {
	seen := map[string]bool{}
	var out []string
	syntax.Walk(st, func(n syntax.Node) bool {
		if a, ok := n.(*syntax.Assign); ok && a.Name != nil {
			for _, v := range grubVars {
				if a.Name.Value == v.name && !seen[v.name] {
					seen[v.name] = true
					out = append(out, v.name)
				}
			}
		}
		return true
	})
	sort.Strings(out)
	return out
}

// unescapeLits returns w with the backslashes of its unquoted literal
// parts removed (sh's quote removal: "\ " is a space), which
// expand.Literal leaves for field splitting to handle. An assignment's
// value is not split.
func unescapeLits(w *syntax.Word) *syntax.Word {
	out := *w
	out.Parts = make([]syntax.WordPart, len(w.Parts))
	for i, p := range w.Parts {
		if l, ok := p.(*syntax.Lit); ok && strings.Contains(l.Value, "\\") {
			c := *l
			var b strings.Builder
			for j := 0; j < len(l.Value); j++ {
				if l.Value[j] == '\\' && j+1 < len(l.Value) {
					j++
				}
				b.WriteByte(l.Value[j])
			}
			c.Value = b.String()
			p = &c
		}
		out.Parts[i] = p
	}
	return &out
}

// wordText prints a word as written (quotes included).
func wordText(w *syntax.Word) string {
	var b strings.Builder
	syntax.NewPrinter().Print(&b, w)
	return b.String()
}

// ParseKernelCmdline reads /etc/kernel/cmdline as kernel-install's
// 90-loaderentry.install does: BOOT_OPTIONS="$(tr -s "$IFS" ' ' <file)",
// every run of spaces, tabs and newlines one space, no comments (a "#" is
// passed to the kernel as it is). The Source's Line is 1.
func ParseKernelCmdline(p string, data []byte) Source {
	s := Source{Path: p, Line: 1, Kind: KernelCmdline, Cmdline: strings.Join(strings.Fields(string(data)), " ")}
	if lines := strings.Count(strings.TrimRight(string(data), " \t\n"), "\n"); lines > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d lines joined with spaces, as kernel-install does", lines+1))
	}
	if strings.Contains(string(data), "#") {
		s.Notes = append(s.Notes, "a '#' here is no comment: it is passed to the kernel")
	}
	return s
}

// ParseGrubenv reads a GRUB environment block (grub-editenv): a
// "# GRUB Environment Block" line, then NAME=VALUE lines, padded with '#'
// to 1024 bytes. GRUB escapes a backslash and a newline in a value with a
// backslash (grub-core/lib/envblk.c); they are undone.
func ParseGrubenv(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxGrubenv+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxGrubenv {
		return nil, fmt.Errorf("more than %d bytes: not a grubenv block", maxGrubenv)
	}
	env := map[string]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || l[0] == '#' {
			continue
		}
		// a value ending in an odd number of backslashes continues
		for strings.HasSuffix(l, "\\") && (len(l)-len(strings.TrimRight(l, "\\")))%2 == 1 && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + "\n" + lines[i]
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: %q is not NAME=VALUE", i+1, trunc(l))
		}
		env[k] = strings.ReplaceAll(v, "\\\\", "\\")
	}
	return env, nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func readGrubenv(fsys *rootfs.FS) (map[string]string, error) {
	for _, p := range Grubenvs {
		data, err := fsys.ReadFile(p, maxGrubenv)
		if missing(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		env, err := ParseGrubenv(strings.NewReader(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fsys.Path(p), err)
		}
		return env, nil
	}
	return nil, nil
}

var blsVar = regexp.MustCompile(`\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// ParseBLS reads a Boot Loader Specification type #1 entry: "key value"
// lines, '#' comment lines; "options" may appear more than once, and the
// values are joined with spaces in order (the specification's "options").
// On Fedora and RHEL, GRUB's blscfg expands $NAME from grubenv (RHEL 8's
// "options $kernelopts"): given env (nil when there is no grubenv), each
// $NAME or ${NAME} is replaced, and an unknown one is kept and noted. The
// Source's Line is the first options line; an entry without one has an
// empty Cmdline.
func ParseBLS(p string, r io.Reader, env map[string]string) (Source, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfig+1))
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", p, err)
	}
	if len(data) > maxConfig {
		return Source{}, fmt.Errorf("%s: more than %d bytes: not a boot loader entry", p, maxConfig)
	}
	s := Source{Path: p, Kind: BLS}
	var opts []string
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		key, val, _ := strings.Cut(strings.ReplaceAll(l, "\t", " "), " ")
		if key != "options" {
			continue
		}
		if s.Line == 0 {
			s.Line = i + 1
		}
		opts = append(opts, strings.TrimSpace(val))
	}
	cmd := strings.Join(opts, " ")
	cmd = blsVar.ReplaceAllStringFunc(cmd, func(m string) string {
		name := strings.Trim(m[1:], "{}")
		if v, ok := env[name]; ok {
			s.Notes = append(s.Notes, fmt.Sprintf("$%s expanded from grubenv", name))
			return v
		}
		if env == nil {
			s.Notes = append(s.Notes, fmt.Sprintf("$%s is GRUB's: no grubenv found to expand it", name))
		} else {
			s.Notes = append(s.Notes, fmt.Sprintf("$%s is not set in grubenv", name))
		}
		return m
	})
	s.Cmdline = strings.Join(strings.Fields(cmd), " ")
	return s, nil
}

func readEntries(fsys *rootfs.FS, env map[string]string) ([]Source, error) {
	var out []Source
	seen := map[string]bool{}
	for _, dir := range EntryDirs {
		res, err := fsys.Resolve(dir)
		if err != nil {
			if missing(err) {
				continue
			}
			return nil, err
		}
		if seen[res] {
			continue // /efi -> /boot/efi: one directory
		}
		seen[res] = true
		names, err := readDir(fsys, dir, ".conf")
		if err != nil {
			return nil, err
		}
		for _, p := range names {
			data, err := fsys.ReadFile(p, maxConfig)
			if err != nil {
				return nil, err
			}
			s, err := ParseBLS(p, strings.NewReader(string(data)), env)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}
