package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

func parsed(t *testing.T) *Options {
	t.Helper()
	o, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCompletionsCoverEveryFlag: the completions come from the flag set, and
// a test proves it for each flag, long and short.
func TestCompletionsCoverEveryFlag(t *testing.T) {
	o := parsed(t)
	bash, zsh := o.Bash(), o.Zsh()
	m := regexp.MustCompile(`COMPREPLY=\(\$\(compgen -W "([^"]*)" -- "\$cur"\)\)\n\}`).FindStringSubmatch(bash)
	if m == nil {
		t.Fatalf("no word list in the bash completion:\n%s", bash)
	}
	words := " " + m[1] + " "
	for _, f := range o.flagInfos() {
		if !strings.Contains(words, " --"+f.long+" ") {
			t.Errorf("bash completion lacks --%s", f.long)
		}
		if !strings.Contains(zsh, "--"+f.long+"[") && !strings.Contains(zsh, ",--"+f.long+"}") {
			t.Errorf("zsh completion lacks --%s", f.long)
		}
		if f.short != "" && !strings.Contains(words, " -"+f.short+" ") {
			t.Errorf("bash completion lacks -%s", f.short)
		}
	}
	if n := len(o.flagInfos()); n < 17 {
		t.Errorf("only %d flags", n)
	}
}

// TestBashCompletes sources the bash script and completes for real.
func TestBashCompletes(t *testing.T) {
	bash := testutil.Tool(t, "bash", "bash")
	script := filepath.Join(t.TempDir(), "arcadvise.bash")
	if err := os.WriteFile(script, []byte(parsed(t).Bash()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ words, want string }{
		{"arcadvise --for", "--force --format"},
		{"arcadvise --form", "--format"},
		{"arcadvise --format ''", "text json prometheus"},
		{"arcadvise --format j", "json"},
		{"arcadvise --text", "--textfile"},
		{"arcadvise --reserve obs", "observed"},
		{"arcadvise --reserve au", "auto"},
		{"arcadvise --reserve auto --guests ''", "running boot all"},
		{"arcadvise --reserve auto --guests", "--guests"},
		{"arcadvise --reserve auto --gu", "--guard --guard-strict --guest --guest-xml --guests"},
		{"arcadvise --reserve auto --guard ''", "pre-start post-stop"},
		{"arcadvise --reserve auto --guard p", "pre-start post-stop"},
		{"arcadvise --reserve auto --guard post", "post-stop"},
	} {
		words := strings.Fields(tc.words)
		cmd := exec.Command(bash, "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); [[ ${COMP_WORDS[COMP_CWORD]} == "''" ]] && COMP_WORDS[COMP_CWORD]=; _arcadvise; echo "${COMPREPLY[*]}"`, "-", script)
		cmd.Args = append(cmd.Args, words...)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("completing %q: %q (%v), want %q", tc.words, out, err, tc.want)
		}
	}
}

// TestManPageCoversEveryFlag: docs/arcadvise.8.md, the source of
// arcadvise(8), documents every flag, under OPTIONS.
func TestManPageCoversEveryFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "arcadvise.8.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	i, j := strings.Index(page, "\n# OPTIONS\n"), strings.Index(page, "\n# EXIT STATUS\n")
	if i < 0 || j < i {
		t.Fatal("no OPTIONS section before EXIT STATUS")
	}
	opts := page[i:j]
	for _, f := range parsed(t).flagInfos() {
		if !strings.Contains(opts, "**--"+f.long+"**") {
			t.Errorf("the man page's OPTIONS lack --%s", f.long)
		}
		if f.short != "" && !strings.Contains(opts, "**-"+f.short+"**, **--"+f.long+"**") {
			t.Errorf("the man page's OPTIONS lack -%s for --%s", f.short, f.long)
		}
	}
	for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "ENVIRONMENT", "EXAMPLES", "SEE ALSO"} {
		if !strings.Contains(page, "\n# "+sec+"\n") {
			t.Errorf("the man page has no %s section", sec)
		}
	}
	for _, see := range []string{"**zfs**(4)", "**modprobe.d**(5)", "**arc_summary**(1)"} {
		if !strings.Contains(page, see) {
			t.Errorf("SEE ALSO lacks %s", see)
		}
	}
}

// TestManPageRenders converts the page with go-md2man (Debian's) and has
// groff check it: no warning at all (-ww), and man -l renders it.
func TestManPageRenders(t *testing.T) {
	md2man := testutil.Tool(t, "go-md2man", "go-md2man")
	groff := testutil.Tool(t, "groff", "groff-base")
	man := testutil.Tool(t, "man", "man-db")
	out := filepath.Join(t.TempDir(), "arcadvise.8")
	if b, err := exec.Command(md2man, "-in", filepath.Join(testutil.RepoRoot(t), "docs", "arcadvise.8.md"), "-out", out).CombinedOutput(); err != nil {
		t.Fatalf("go-md2man: %v\n%s", err, b)
	}
	if b, err := exec.Command(groff, "-man", "-ww", "-z", out).CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("groff -man -ww -z: %v\n%s", err, b)
	}
	cmd := exec.Command(man, "-l", out)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80")
	b, err := cmd.Output()
	if err != nil || !strings.Contains(string(b), "ARCADVISE(8)") || !strings.Contains(string(b), "--textfile") {
		t.Errorf("man -l: %v\n%.300s", err, b)
	}
}
