// Package guard is the pure part of arcadvise's guard at guest start
// (--guard pre-start|post-stop): the policy the admin sets in
// /etc/default/arcadvise, the guest a hook names, and the decision, from
// the recommendation for the reservation with (or without) that guest and
// the cap in effect. cmd/arcadvise reads the host, carries the decision out
// through internal/apply and logs it.
package guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"mvdan.cc/sh/v3/syntax"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// PolicyFile is the policy's file under the root: the same
// /etc/default/arcadvise that arcadvise-textfile.service reads with
// EnvironmentFile= and the hooks source.
const PolicyFile = "etc/default/arcadvise"

// maxPolicy bounds the file: the shipped one is under 2 KiB.
const maxPolicy = 64 << 10

// Budget bounds: the guard runs while a guest waits to start, so a budget
// above MaxBudget is refused as a typo, and one below MinBudget could not
// read the host at all.
const (
	DefaultBudget = 2 * time.Second
	MinBudget     = 100 * time.Millisecond
	MaxBudget     = 30 * time.Second
)

// Settle bounds: after lowering the cap at pre-start the guard waits, at
// most Settle, for the ARC to come down to it (see Settle in Policy). With
// the budget the whole run stays under the hooks' 40 s timeout.
const (
	DefaultSettle = 10 * time.Second
	MaxSettle     = 10 * time.Second
)

// Policy is what the admin decided in /etc/default/arcadvise.
type Policy struct {
	// Strict (ARCADVISE_GUARD_STRICT=yes): refuse a guest's start when
	// even the smallest ARC leaves it no room, or when the guard cannot
	// decide (an error, the budget spent). Default no: warn and allow.
	Strict bool
	// Budget (ARCADVISE_GUARD_BUDGET, a Go duration): the whole run, reads
	// included; default 2s.
	Budget time.Duration
	// Raise (ARCADVISE_GUARD_RAISE=yes): at post-stop, raise the cap back
	// toward the recommendation without the stopped guest, never above the
	// next boot's value. Default no: a lowered cap stays until the next
	// boot or a --live run.
	Raise bool
	// Settle (ARCADVISE_GUARD_SETTLE, a Go duration, 0 to 10s): at
	// pre-start, after lowering the cap, how long the guard waits for the
	// ARC to come down to it before letting the guest start. Lowering
	// zfs_arc_max evicts nothing by itself: the ARC gives back what is
	// above the cap when it is next used (a read, a write) or under memory
	// pressure (zfs(4), zfs_arc_max: "reducing it below the current ARC
	// size will not cause the ARC to shrink without memory pressure"); a
	// guest that allocates before that takes its memory through reclaim,
	// the stall the guard is there to avoid. Default 10s; 0: do not wait.
	Settle time.Duration
	// TextfileDir is TEXTFILE_DIR, node_exporter's textfile directory
	// (the one arcadvise-textfile.service writes); "" when unset.
	TextfileDir string
	// Warnings are keys that look like the guard's but are not (a typo),
	// each with its file and line.
	Warnings []string
}

// DefaultPolicy is the policy when the file is missing or malformed.
func DefaultPolicy() Policy { return Policy{Budget: DefaultBudget, Settle: DefaultSettle} }

// guardKeys are the keys ParsePolicy takes; other ARCADVISE_GUARD_* keys
// are warned about.
var guardKeys = []string{"ARCADVISE_GUARD_STRICT", "ARCADVISE_GUARD_BUDGET", "ARCADVISE_GUARD_RAISE", "ARCADVISE_GUARD_SETTLE", "ARCADVISE_GUARD_ARGS"}

// ParsePolicy reads the policy from r, the file named path (for messages).
// The file is read by systemd (EnvironmentFile=, systemd.exec(5)) and by
// bash (the hooks source it), which agree only on plain assignments of
// plain values, so that is all it takes: KEY=VALUE lines whose value is
// unquoted, 'single-quoted' or "double-quoted" text with no backslash, $,
// or backquote; comments on lines of their own; blank lines. Anything else
// is an error naming the file and line, and the caller falls back to
// DefaultPolicy: a trailing "# comment" after a value (systemd keeps it
// in the value), a command, an expansion, export (systemd reads "export X"
// as a key). Keys other than the guard's and TEXTFILE_DIR are
// not the guard's business (ARCADVISE_ARGS) and are only checked for
// syntax. The file is parsed with mvdan.cc/sh, as /etc/default/grub is
// (internal/nextboot); nothing in it is run.
func ParsePolicy(r io.Reader, path string) (Policy, error) {
	p := DefaultPolicy()
	data, err := io.ReadAll(io.LimitReader(r, maxPolicy+1))
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxPolicy {
		return p, fmt.Errorf("%s: larger than %d bytes, more than a KEY=VALUE file holds", path, maxPolicy)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return p, fmt.Errorf("%s: a NUL byte: not a text file", path)
	}
	f, err := syntax.NewParser(syntax.KeepComments(true), syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(data), path)
	if err != nil {
		if pe, ok := errors.AsType[syntax.ParseError](err); ok {
			return p, fmt.Errorf("%s:%d: %s: not a KEY=VALUE line", path, pe.Pos.Line(), pe.Text)
		}
		return p, fmt.Errorf("%s: %w", path, err)
	}
	assignLines := map[uint]bool{}
	seen := map[string]uint{}
	for _, st := range f.Stmts {
		line := st.Pos().Line()
		as, ok := plainAssign(st)
		if !ok {
			return DefaultPolicy(), fmt.Errorf("%s:%d: not a KEY=VALUE line (systemd's EnvironmentFile= takes only those; nothing is run)", path, line)
		}
		assignLines[line] = true
		if st.End().Line() != line {
			return DefaultPolicy(), fmt.Errorf("%s:%d: %s: a value over several lines", path, line, as.Name.Value)
		}
		val, ok := plainValue(as.Value)
		if !ok {
			return DefaultPolicy(), fmt.Errorf("%s:%d: %s: the value must be plain text, quoted or not, without \\, $ or `: bash and systemd read those differently", path, line, as.Name.Value)
		}
		key := as.Name.Value
		if prev, dup := seen[key]; dup {
			return DefaultPolicy(), fmt.Errorf("%s:%d: %s is set again (first at line %d)", path, line, key, prev)
		}
		seen[key] = line
		if err := p.set(key, val); err != nil {
			return DefaultPolicy(), fmt.Errorf("%s:%d: %s=%q: %w", path, line, key, val, err)
		}
		if strings.HasPrefix(key, "ARCADVISE_GUARD_") && !slices.Contains(guardKeys, key) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s:%d: %s is not a setting of the guard (it knows %s): ignored", path, line, key, strings.Join(guardKeys, ", ")))
		}
	}
	for _, st := range f.Stmts {
		for _, c := range st.Comments {
			if assignLines[c.Hash.Line()] {
				return DefaultPolicy(), fmt.Errorf("%s:%d: a comment after a value: systemd keeps it in the value; put it on a line of its own", path, c.Hash.Line())
			}
		}
	}
	return p, nil
}

func (p *Policy) set(key, val string) error {
	var err error
	switch key {
	case "ARCADVISE_GUARD_STRICT":
		p.Strict, err = parseBool(val)
	case "ARCADVISE_GUARD_RAISE":
		p.Raise, err = parseBool(val)
	case "ARCADVISE_GUARD_BUDGET":
		var d time.Duration
		if d, err = time.ParseDuration(val); err != nil {
			return errors.New("not a duration (e.g. 2s, 1500ms)")
		}
		if d < MinBudget || d > MaxBudget {
			return fmt.Errorf("outside %s to %s", MinBudget, MaxBudget)
		}
		p.Budget = d
	case "ARCADVISE_GUARD_SETTLE":
		var d time.Duration
		if d, err = time.ParseDuration(val); err != nil {
			return errors.New("not a duration (e.g. 10s, 0)")
		}
		if d < 0 || d > MaxSettle {
			return fmt.Errorf("outside 0 to %s", MaxSettle)
		}
		p.Settle = d
	case "TEXTFILE_DIR":
		if val != "" && !strings.HasPrefix(val, "/") {
			return errors.New("not an absolute path")
		}
		p.TextfileDir = val
	}
	return err
}

// parseBool reads a boolean as systemd's parse_boolean does (1, yes, y,
// true, t, on; 0, no, n, false, f, off; any case).
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, errors.New("not yes or no")
}

// plainAssign is the one assignment of a statement that is nothing else.
func plainAssign(st *syntax.Stmt) (*syntax.Assign, bool) {
	if st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 {
		return nil, false
	}
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) != 0 || len(c.Assigns) != 1 {
		return nil, false
	}
	a := c.Assigns[0]
	if a.Name == nil || a.Append || a.Naked || a.Index != nil || a.Array != nil {
		return nil, false
	}
	return a, true
}

// plainValue is the text of a word made of plain literals, single-quoted
// text and double-quoted plain literals; ok is false for anything bash and
// systemd would read differently (escapes, expansions, substitutions).
func plainValue(w *syntax.Word) (string, bool) {
	if w == nil {
		return "", true
	}
	var b strings.Builder
	lit := func(s string) bool {
		if strings.ContainsAny(s, "\\$`\n") {
			return false
		}
		b.WriteString(s)
		return true
	}
	for _, part := range w.Parts {
		switch x := part.(type) {
		case *syntax.Lit:
			if !lit(x.Value) {
				return "", false
			}
		case *syntax.SglQuoted:
			if x.Dollar || !lit(x.Value) {
				return "", false
			}
		case *syntax.DblQuoted:
			if x.Dollar {
				return "", false
			}
			for _, q := range x.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok || !lit(l.Value) {
					return "", false
				}
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// ReadPolicy reads /etc/default/arcadvise under the root. A missing file is
// the default policy with no error; a file that cannot be read or parsed
// is the default policy and the error, which the caller logs.
func ReadPolicy(fsys *rootfs.FS) (Policy, error) {
	b, err := fsys.ReadFile(PolicyFile, maxPolicy)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultPolicy(), nil
	}
	if err != nil {
		return DefaultPolicy(), err
	}
	return ParsePolicy(bytes.NewReader(b), fsys.Path(PolicyFile))
}
