// Package modprobe reads the zfs module options the way kmod's modprobe
// collects them at module load, and plans and applies a safe edit of them.
//
// What modprobe reads (kmod libkmod/libkmod-config.c, modprobe.d(5)):
//
//   - the directories /etc/modprobe.d, /run/modprobe.d,
//     /usr/local/lib/modprobe.d, /usr/lib/modprobe.d and /lib/modprobe.d;
//     in each, every entry whose name ends in ".conf" and does not start with
//     "." (conf_files_filter_out) and is not a directory once symlinks are
//     followed. A name seen in an earlier directory hides the same name in
//     a later one (conf_files_insert_sorted: "Ignoring duplicate config
//     file"), and the files are then read in byte order of their names
//     (strcmp), whatever directory they sit in. kmod 32 and older also read
//     "*.alias" files; kmod 33 dropped them.
//   - lines are read by freadline_wrapped (shared/util.c): a backslash
//     followed by a newline joins the next physical line with nothing in
//     between, a backslash followed by any other byte stands for that byte,
//     a backslash at end of file is dropped.
//   - a logical line is a comment only when its first byte is '#'
//     (kmod_config_parse: line[0] == '#'). An indented "#" line is not a
//     comment for kmod, but its first word is not a command, so it is
//     ignored all the same ("ignoring bad line starting with '#'"). There
//     are no end-of-line comments: in "options zfs zfs_arc_max=1 # 1 GiB"
//     the words "#", "1" and "GiB" go to the module as parameters (the
//     kernel logs "unknown parameter '#' ignored"), and any "name=value"
//     after the "#" is applied.
//   - "options MODULE REST": MODULE is the second word (spaces and tabs
//     separate words, '-' in it reads as '_'), REST is everything after the
//     single separator that follows it, with tabs turned into spaces
//     (kmod_config_add_options). modprobe concatenates, with spaces, the
//     REST of every "options" line whose module name is exactly "zfs"
//     (libkmod-module.c kmod_module_get_options), in file order, then the
//     zfs.* words of the kernel command line (kmod_config_new runs
//     kmod_config_parse_kcmdline after the files), and hands the result to
//     the kernel, which splits it with next_arg (lib/cmdline.c: whitespace
//     separates, double quotes group, a "--" word ends the parameters) and
//     runs each parameter's setter in turn (kernel/params.c parse_args;
//     parameq treats '-' and '_' alike), so the last occurrence of a
//     parameter wins. A value the setter rejects fails the module load; an
//     unknown parameter is only logged.
//   - the options of each line are split here on their own: a double quote
//     left open on one line, which the kernel would carry into the next
//     line's options, is reported (and Plan refuses to edit) rather than
//     modelled.
//   - "install", "remove", "softdep", "weakdep", "alias" and "blacklist"
//     lines do not change parameter values and are ignored here.
//
// Values are kept as the kernel receives them (quotes removed). The zfs
// ARC parameters are read by kstrtoull with base 0: see ParseValue.
package modprobe

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Source says where a Setting comes from.
type Source int

const (
	// FromFile is an "options zfs" line in a modprobe.d file.
	FromFile Source = iota
	// FromCmdline is a zfs.PARAM=VALUE word on the kernel command line.
	FromCmdline
)

func (s Source) String() string {
	switch s {
	case FromFile:
		return "file"
	case FromCmdline:
		return "cmdline"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText makes Source "file" or "cmdline" in JSON.
func (s Source) MarshalText() ([]byte, error) {
	switch s {
	case FromFile, FromCmdline:
		return []byte(s.String()), nil
	}
	return nil, fmt.Errorf("modprobe: invalid source %d", int(s))
}

// CmdlinePath is the Path of settings read from the kernel command line.
const CmdlinePath = "/proc/cmdline"

// Setting is one zfs module parameter as the kernel will receive it.
type Setting struct {
	// Param is the parameter name as written ('-' and '_' are the same to
	// the kernel; compare with SameParam).
	Param string
	// Value is the value as the kernel receives it, quotes removed; empty
	// when the word has no '='.
	Value string
	// Path is the file as the admin knows it (/etc/modprobe.d/zfs.conf),
	// or /proc/cmdline.
	Path string
	// Line is the physical line (1-based) where the word starts; 0 for the
	// kernel command line.
	Line   int
	Source Source
}

// Where is "path:line", or the path alone for the command line.
func (s Setting) Where() string {
	if s.Line == 0 {
		return s.Path
	}
	return s.Path + ":" + strconv.Itoa(s.Line)
}

func (s Setting) String() string {
	if s.Source == FromCmdline {
		return "zfs." + s.Param + "=" + s.Value
	}
	return s.Param + "=" + s.Value
}

// Warning is a finding about the configuration that names file and line.
type Warning struct {
	Path string
	Line int // 0 when the finding is about the whole file or the command line
	Msg  string
}

func (w Warning) String() string {
	if w.Line == 0 {
		return w.Path + ": " + w.Msg
	}
	return w.Path + ":" + strconv.Itoa(w.Line) + ": " + w.Msg
}

// SameParam reports whether two parameter names are the same to the kernel,
// which treats '-' and '_' alike (kernel/params.c parameq).
func SameParam(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if dash2underscore(a[i]) != dash2underscore(b[i]) {
			return false
		}
	}
	return true
}

func dash2underscore(c byte) byte {
	if c == '-' {
		return '_'
	}
	return c
}

func normParam(p string) string {
	if strings.IndexByte(p, '-') < 0 {
		return p
	}
	return strings.ReplaceAll(p, "-", "_")
}

// ParseValue reads a module parameter value as the kernel's kstrtoull with
// base 0 does (lib/kstrtox.c): an optional '+', then "0x"/"0X" followed by a
// hex digit means hexadecimal, another leading "0" means octal, anything
// else decimal; one trailing newline is allowed; no spaces, signs or size
// suffixes; values above 2^64-1 are out of range.
func ParseValue(s string) (uint64, error) {
	orig := s
	s = strings.TrimPrefix(s, "+")
	base := uint64(10)
	if len(s) > 0 && s[0] == '0' {
		if len(s) > 2 && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
			base = 16
			s = s[2:]
		} else {
			base = 8
		}
	}
	var v uint64
	n := 0
	for ; n < len(s); n++ {
		d, ok := digit(s[n])
		if !ok || d >= base {
			break
		}
		if v > (1<<64-1-d)/base {
			return 0, fmt.Errorf("%q is out of range for a 64-bit parameter", orig)
		}
		v = v*base + d
	}
	if n == 0 {
		return 0, fmt.Errorf("%q is not a number the kernel reads (decimal, 0x hex or 0-prefixed octal, no suffix)", orig)
	}
	rest := s[n:]
	if rest == "\n" {
		rest = ""
	}
	if rest != "" {
		what := "is not a number the kernel reads (decimal, 0x hex or 0-prefixed octal, no suffix)"
		if base == 8 && rest[0] >= '8' && rest[0] <= '9' {
			what = "starts with 0, so the kernel reads it as octal, and has a digit 8 or 9"
		}
		return 0, fmt.Errorf("%q %s", orig, what)
	}
	return v, nil
}

func isHex(c byte) bool {
	_, ok := digit(c)
	return ok
}

func digit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// logicalLine is one line as kmod's freadline_wrapped returns it, with the
// file offset of every byte so that edits can be mapped back.
type logicalLine struct {
	text  []byte // after continuation and escape handling, cut at the first NUL
	off   []int  // off[i] is the file offset of text[i]
	start int    // file offset of the first byte of the first physical line
	end   int    // file offset just past the terminating newline (or EOF)
}

// eachLine calls fn with each logical line of data, split as kmod's
// freadline_wrapped splits them, in buffers it reuses: fn must clone a
// line it keeps (a file of comments costs no allocation per line).
// pending reports that the data ends inside a continuation (its last
// newline was escaped), so that a line appended after it would be joined
// to the previous one.
func eachLine(data []byte, fn func(*logicalLine)) (pending bool) {
	i := 0
	var ll logicalLine
	for i < len(data) {
		ll.start, ll.text, ll.off = i, ll.text[:0], ll.off[:0]
		pending = false
		terminated := false
		for i < len(data) && !terminated {
			c := data[i]
			switch {
			case c == '\\' && i+1 >= len(data):
				i++ // backslash at EOF: dropped (kmod >= 31)
				continue
			case c == '\\' && data[i+1] == '\n':
				i += 2
				pending = true
				continue
			case c == '\\':
				i++
				c = data[i]
			case c == '\n':
				i++
				terminated = true
				continue
			}
			ll.text = append(ll.text, c)
			ll.off = append(ll.off, i)
			pending = false
			i++
		}
		if !terminated && len(ll.text) == 0 {
			// EOF with nothing buffered: freadline_wrapped returns NULL.
			return pending
		}
		ll.end = i
		if k := bytes.IndexByte(ll.text, 0); k >= 0 {
			// C string semantics: everything after a NUL is invisible.
			ll.text, ll.off = ll.text[:k], ll.off[:k]
		}
		fn(&ll)
	}
	return pending
}

// clone copies a line out of eachLine's buffers.
func (ll *logicalLine) clone() logicalLine {
	c := *ll
	c.text, c.off = slices.Clone(ll.text), slices.Clone(ll.off)
	return c
}

// lineIndex holds the start offset of every physical line.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	idx := make(lineIndex, 1, bytes.Count(data, []byte{'\n'})+1)
	for i, c := range data {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

// lineOf returns the physical line number (1-based) of file offset off.
func (x lineIndex) lineOf(off int) int {
	lo, hi := 0, len(x)
	for lo+1 < hi {
		m := (lo + hi) / 2
		if x[m] <= off {
			lo = m
		} else {
			hi = m
		}
	}
	return lo + 1
}

// kmod splits commands with strtok_r(" \t").
func isKmodDelim(c byte) bool { return c == ' ' || c == '\t' }

// isKernelSpace is the kernel's isspace (lib/ctype.c): the C locale
// whitespace plus 0xA0, which the kernel's Latin-1 table marks as space.
func isKernelSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xA0:
		return true
	}
	return false
}

// strtok emulates strtok_r(s, delims, &save) starting at pos: it returns
// the token [start, end) and the position of the next call (after the one
// delimiter that ended the token).
func strtok(s []byte, pos int) (start, end, next int, ok bool) {
	for pos < len(s) && isKmodDelim(s[pos]) {
		pos++
	}
	if pos >= len(s) {
		return 0, 0, pos, false
	}
	start = pos
	for pos < len(s) && !isKmodDelim(s[pos]) {
		pos++
	}
	end = pos
	if pos < len(s) {
		pos++
	}
	return start, end, pos, true
}

// kernelArg is one word of a module option string as next_arg splits it.
type kernelArg struct {
	param    string
	value    string
	hasValue bool
	start    int // index of the word's first byte (an opening quote included)
	end      int // index just past the word
}

// splitKernelArgs emulates parse_args/next_arg (lib/cmdline.c) on s, which
// holds no NUL. It stops after a "--" word, as parse_args does. unbalanced
// reports a word whose double quote is never closed.
func splitKernelArgs(s []byte) (args []kernelArg, unbalanced bool) {
	pos := 0
	for pos < len(s) && isKernelSpace(s[pos]) {
		pos++
	}
	for pos < len(s) {
		a := kernelArg{start: pos}
		inQuote, quoted := false, false
		if s[pos] == '"' {
			pos++
			inQuote, quoted = true, true
		}
		base := pos
		equals := 0
		i := 0
		for ; base+i < len(s); i++ {
			c := s[base+i]
			if isKernelSpace(c) && !inQuote {
				break
			}
			if equals == 0 && c == '=' {
				equals = i
			}
			if c == '"' {
				inQuote = !inQuote
			}
		}
		if inQuote {
			unbalanced = true
		}
		buf := append([]byte(nil), s[base:base+i]...)
		valStart := -1
		if equals != 0 {
			buf[equals] = 0
			valStart = equals + 1
			if valStart < len(buf) && buf[valStart] == '"' {
				valStart++
				if buf[i-1] == '"' {
					buf[i-1] = 0
				}
			}
		}
		if quoted && i > 0 && buf[i-1] == '"' {
			buf[i-1] = 0
		}
		a.param = cstr(buf)
		if valStart >= 0 {
			a.hasValue = true
			if valStart < len(buf) {
				a.value = cstr(buf[valStart:])
			}
		}
		a.end = base + i
		args = append(args, a)
		pos = a.end
		if pos < len(s) {
			pos++
		}
		for pos < len(s) && isKernelSpace(s[pos]) {
			pos++
		}
		if !a.hasValue && a.param == "--" {
			break
		}
	}
	return args, unbalanced
}

func cstr(b []byte) string {
	if k := bytes.IndexByte(b, 0); k >= 0 {
		b = b[:k]
	}
	return string(b)
}

// word is a zfs parameter word found in a file, with what an edit needs.
type word struct {
	Setting
	hasValue  bool
	line      int // index into parsed.lines
	fileStart int // file offset of the word's first byte
	fileEnd   int // file offset just past its last byte
	prevEnd   int // file offset just past the previous word (or the module name)
}

// parsedLine is an "options zfs" line.
type parsedLine struct {
	ll    logicalLine
	words []int // indexes into parsed.words
}

type parsed struct {
	words      []word
	lines      []parsedLine
	warnings   []Warning
	pending    bool // data ends inside a continuation
	dashdash   bool // a "--" word ended the parameters
	unbalanced int  // first line of an "options zfs" line with an open quote
}

// knownCommands are the first words kmod (any version) understands.
var knownCommands = map[string]bool{
	"alias": true, "blacklist": true, "options": true, "install": true,
	"remove": true, "softdep": true, "weakdep": true, "include": true,
	"config": true,
}

// parse reads one modprobe.d file. path is used in Settings and messages.
func parse(path string, data []byte) *parsed {
	p := &parsed{}
	idx := newLineIndex(data)
	p.pending = eachLine(data, func(lp *logicalLine) {
		p.parseLine(path, data, idx, lp)
	})
	return p
}

// parseLine parses one logical line (eachLine's: cloned when kept).
func (p *parsed) parseLine(path string, data []byte, idx lineIndex, lp *logicalLine) {
	if len(p.words) > maxSettings {
		return // past Load's budget already: it refuses the file
	}
	ll := *lp
	t := ll.text
	first := idx.lineOf(ll.start)
	if len(t) == 0 {
		return
	}
	if t[0] == '#' {
		if last := idx.lineOf(max(ll.end-1, ll.start)); last > first && continuesIntoContent(data, ll) {
			p.warn(path, first, fmt.Sprintf("comment ends in '\\': modprobe reads line(s) %d-%d as part of the comment and ignores them", first+1, last))
		}
		return
	}
	cs, ce, next, ok := strtok(t, 0)
	if !ok {
		return
	}
	if cmd := string(t[cs:ce]); cmd != "options" {
		if cmd[0] != '#' && !knownCommands[cmd] && bytes.Contains(t, []byte("zfs")) {
			hint := ""
			if cmd == "option" {
				hint = " (did you mean 'options'?)"
			}
			p.warn(path, first, fmt.Sprintf("modprobe ignores this line: %q is not a modprobe.d command%s", cmd, hint))
		}
		return
	}
	ms, me, next, ok := strtok(t, next)
	if !ok || normParam(string(t[ms:me])) != "zfs" || next >= len(t) {
		// Another module, or "options zfs" with nothing after it,
		// which kmod ignores as a bad line.
		return
	}
	if p.dashdash {
		p.warn(path, first, "ignored by the kernel: it comes after a '--' word, which ends the module parameters")
		return
	}
	opts := bytes.ReplaceAll(t[next:], []byte{'\t'}, []byte{' '})
	args, unbalanced := splitKernelArgs(opts)
	ll = lp.clone() // kept in p.lines
	pl := parsedLine{ll: ll}
	prevEnd := ll.off[me-1] + 1
	var hashWords []string
	hashLine := 0
	for _, a := range args {
		start := ll.off[next+a.start]
		w := word{
			Setting: Setting{
				Param:  a.param,
				Value:  a.value,
				Path:   path,
				Line:   idx.lineOf(start),
				Source: FromFile,
			},
			hasValue:  a.hasValue,
			line:      len(p.lines),
			fileStart: start,
			fileEnd:   ll.off[next+a.end-1] + 1,
			prevEnd:   prevEnd,
		}
		prevEnd = w.fileEnd
		if !a.hasValue && a.param == "--" {
			p.dashdash = true
			p.warn(path, w.Line, "a '--' word ends the module parameters: the kernel ignores everything after it, later lines, files and the command line included")
			break
		}
		if hashLine > 0 || strings.HasPrefix(a.param, "#") {
			if hashLine == 0 {
				hashLine = w.Line
			}
			text := a.param
			if a.hasValue {
				text += "=" + a.value
			}
			hashWords = append(hashWords, text)
		}
		pl.words = append(pl.words, len(p.words))
		p.words = append(p.words, w)
		if msg := valueProblem(w.Setting, w.hasValue); msg != "" {
			p.warn(path, w.Line, msg)
		}
	}
	if hashLine > 0 {
		p.warn(path, hashLine, "trailing '# ...' is passed to the module as parameters (modprobe.d has no end-of-line comments): "+strings.Join(hashWords, " "))
	}
	if unbalanced {
		if p.unbalanced == 0 {
			p.unbalanced = first
		}
		p.warn(path, first, "unbalanced '\"': the kernel reads the rest of the zfs options, later lines, files and the command line included, as part of one value")
	}
	p.lines = append(p.lines, pl)
}

// continuesIntoContent reports whether the physical lines a comment swallowed
// through a trailing backslash hold anything but blanks.
func continuesIntoContent(data []byte, ll logicalLine) bool {
	nl := bytes.IndexByte(data[ll.start:ll.end], '\n')
	if nl < 0 {
		return false
	}
	rest := data[ll.start+nl+1 : ll.end]
	return len(bytes.TrimSpace(bytes.ReplaceAll(rest, []byte("\\\n"), nil))) > 0
}

func (p *parsed) warn(path string, line int, msg string) {
	p.warnings = append(p.warnings, Warning{Path: path, Line: line, Msg: msg})
}

func (p *parsed) settings() []Setting {
	out := make([]Setting, len(p.words))
	for i, w := range p.words {
		out[i] = w.Setting
	}
	return out
}

// valueProblem checks the value of a zfs_arc_* parameter, which the kernel
// parses as an unsigned number.
func valueProblem(s Setting, hasValue bool) string {
	n := normParam(s.Param)
	if !strings.HasPrefix(n, "zfs_arc_") {
		return ""
	}
	fatal := n == "zfs_arc_max" || n == "zfs_arc_min"
	consequence := "the kernel rejects it"
	if fatal {
		consequence = "the kernel rejects it and the zfs module fails to load"
	}
	if !hasValue {
		return fmt.Sprintf("%s has no value: %s", s.Param, consequence)
	}
	v, err := ParseValue(s.Value)
	if err != nil {
		return fmt.Sprintf("%s=%s: %v: %s", s.Param, s.Value, err, consequence)
	}
	t := strings.TrimPrefix(s.Value, "+")
	if len(t) > 1 && t[0] == '0' && t[1] != 'x' && t[1] != 'X' {
		return fmt.Sprintf("%s=%s starts with 0, so the kernel reads it as octal: %d bytes", s.Param, s.Value, v)
	}
	return ""
}

// ParseFile reads one modprobe.d file and returns its zfs options in
// order, with warnings about lines modprobe or the kernel read differently
// from how they look. path names the file in Settings and Warnings (the
// path as the admin knows it). The only error is a read error.
func ParseFile(path string, r io.Reader) ([]Setting, []Warning, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	p := parse(path, data)
	return p.settings(), p.warnings, nil
}

// kcmdlineSize is KCMD_LINE_SIZE in kmod: it reads at most 4095 bytes.
const kcmdlineSize = 4096

// ParseCmdline reads /proc/cmdline and returns its zfs.PARAM[=VALUE] words
// as kmod's kmod_config_parse_kcmdline finds them: words are separated by
// whitespace outside double quotes, the module name ends at the first '.',
// a word with '=' before any '.' or with a quote other than one opening
// the word or inside the value is not a module option, and a word quoted
// whole ("zfs.x=a b") is re-quoted around its value as kmod does.
func ParseCmdline(r io.Reader) ([]Setting, error) {
	data, err := io.ReadAll(io.LimitReader(r, kcmdlineSize-1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CmdlinePath, err)
	}
	words := parseCmdline(data, CmdlinePath, 0)
	out := make([]Setting, len(words))
	for i, w := range words {
		out[i] = w.Setting
	}
	return out, nil
}

type kcmdlineOption struct {
	module string
	option []byte // "param" or "param=value", as kmod adds it
}

// kcmdlineOptions is kmod_config_parse_kcmdline's state machine (kmod 29+).
func kcmdlineOptions(buf []byte) []kcmdlineOption {
	const (
		stIgnore = iota
		stModname
		stParam
		stValue
		stComplete
	)
	var out []kcmdlineOption
	state := stModname
	quoted := false
	modname, modEnd, param, value := 0, 0, 0, -1
	quoteStart := -1
	iter := true
	for p := 0; iter; p++ {
		var c byte
		if p < len(buf) {
			c = buf[p]
		}
		end := p
		switch c {
		case '"':
			quoted = !quoted
			if quoted && state == stModname && p == modname {
				quoteStart = p
				modname = p + 1
			} else if state != stValue {
				state = stIgnore
			}
		case 0, ' ', '\n', '\t', '\v', '\f', '\r':
			if c == 0 {
				iter = false
			}
			switch {
			case quoted && state == stValue:
			case quoted:
				state = stIgnore
			case state == stValue || state == stParam:
				state = stComplete
			default:
				modname = p + 1
				state = stModname
				quoteStart = -1
				value = -1
			}
		case '.':
			if state == stModname {
				modEnd = p
				param = p + 1
				state = stParam
			} else if state == stParam {
				state = stIgnore
			}
		case '=':
			if state == stParam {
				value = p + 1
				state = stValue
			} else if state == stModname {
				state = stIgnore
			}
		}
		if state == stComplete {
			opt := append([]byte(nil), buf[param:end]...)
			if quoteStart >= 0 && value >= 0 {
				// "zfs.x=a b" -> x="a b" (kmod re-quotes what grub mangled)
				v := value - param
				opt = append(append(append([]byte(nil), opt[:v]...), '"'), opt[v:]...)
			}
			if k := bytes.IndexByte(opt, 0); k >= 0 {
				opt = opt[:k]
			}
			out = append(out, kcmdlineOption{module: string(buf[modname:modEnd]), option: opt})
			modname = p + 1
			state = stModname
			quoteStart = -1
			value = -1
		}
	}
	return out
}

// ModuleOptions returns the options modprobe.d gives module (zfs's own are
// Settings), in the order modprobe applies them, each with its file and
// line: the "options MODULE ..." lines of the files Load read, split as
// the kernel splits parameters. It reads nothing: Load is the one reader
// of modprobe.d.
func (c *Config) ModuleOptions(module string) []Setting {
	module = normParam(module)
	var out []Setting
	for _, f := range c.files {
		if len(f.data) == 0 {
			continue
		}
		idx := newLineIndex(f.data)
		eachLine(f.data, func(ll *logicalLine) {
			t := ll.text
			if len(t) == 0 || t[0] == '#' {
				return
			}
			cs, ce, next, ok := strtok(t, 0)
			if !ok || string(t[cs:ce]) != "options" {
				return
			}
			ms, me, next, ok := strtok(t, next)
			if !ok || normParam(string(t[ms:me])) != module || next >= len(t) {
				return
			}
			args, _ := splitKernelArgs(bytes.ReplaceAll(t[next:], []byte{'\t'}, []byte{' '}))
			for _, a := range args {
				out = append(out, Setting{Param: a.param, Value: a.value, Path: f.path,
					Line: idx.lineOf(ll.off[next+a.start]), Source: FromFile})
			}
		})
	}
	return out
}

// KernelArgs splits a kernel command line (or module options) into words
// as the kernel does (next_arg in lib/cmdline.c): blanks separate, double
// quotes group and are removed.
func KernelArgs(s string) []string {
	args, _ := splitKernelArgs([]byte(s))
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.param
		if a.hasValue {
			out[i] += "=" + a.value
		}
	}
	return out
}
