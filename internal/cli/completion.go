package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Completions are generated from the flag set itself, so they cannot miss a
// flag: packaging/build.sh writes them with `go run ./packaging/completions`.

// valueHints are the values a flag's argument completes to: a word list, or
// "DIR" (directories), "FILE" (files).
var valueHints = map[string]string{
	"format":    "text json prometheus",
	"root":      "DIR",
	"textfile":  "DIR",
	"reserve":   "auto observed",
	"guests":    "running boot all",
	"guard":     "pre-start post-stop",
	"guest-xml": "-",
}

type flagInfo struct {
	long, short, usage string
	takesValue         bool
}

func (o *Options) flagInfos() []flagInfo {
	var out []flagInfo
	o.fset.VisitAll(func(f *pflag.Flag) {
		out = append(out, flagInfo{long: f.Name, short: f.Shorthand, usage: firstClause(f.Usage), takesValue: f.Value.Type() != "bool"})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].long < out[j].long })
	return out
}

// firstClause is a flag's help up to its first ';' or '(' or 70 bytes,
// for the one-line descriptions zsh shows.
func firstClause(s string) string {
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, "`", ""))
	if len(s) > 70 {
		s = s[:70]
		if i := strings.LastIndexByte(s, ' '); i > 40 {
			s = s[:i]
		}
	}
	return s
}

// Bash is a bash completion script for arcadvise.
func (o *Options) Bash() string {
	var words []string
	var b strings.Builder
	for _, f := range o.flagInfos() {
		words = append(words, "--"+f.long)
		if f.short != "" {
			words = append(words, "-"+f.short)
		}
	}
	b.WriteString("# bash completion for arcadvise(8), generated from its flags\n")
	b.WriteString("_arcadvise() {\n  local cur prev\n  COMPREPLY=()\n  cur=${COMP_WORDS[COMP_CWORD]}\n  prev=${COMP_WORDS[COMP_CWORD-1]}\n  case $prev in\n")
	for _, f := range o.flagInfos() {
		if !f.takesValue {
			continue
		}
		pat := "--" + f.long
		if f.short != "" {
			pat += "|-" + f.short
		}
		switch h := valueHints[f.long]; h {
		case "DIR":
			fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", pat)
		case "":
			fmt.Fprintf(&b, "    %s) return ;;\n", pat)
		default:
			fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", pat, h)
		}
	}
	fmt.Fprintf(&b, "  esac\n  COMPREPLY=($(compgen -W %q -- \"$cur\"))\n}\ncomplete -F _arcadvise arcadvise\n", strings.Join(words, " "))
	return b.String()
}

// Zsh is a zsh completion function for arcadvise (#compdef).
func (o *Options) Zsh() string {
	var b strings.Builder
	b.WriteString("#compdef arcadvise\n# zsh completion for arcadvise(8), generated from its flags\n_arguments -s \\\n")
	for _, f := range o.flagInfos() {
		desc := strings.NewReplacer("[", "(", "]", ")", "'", "", ":", " ").Replace(f.usage)
		action := ""
		if f.takesValue {
			switch h := valueHints[f.long]; h {
			case "DIR":
				action = ":" + f.long + ":_directories"
			case "":
				action = ":" + f.long + ": "
			default:
				action = ":" + f.long + ":(" + h + ")"
			}
		}
		repeat := ""
		if f.long == "reserve" {
			repeat = "*"
		}
		if f.short != "" {
			fmt.Fprintf(&b, "  '%s'{-%s,--%s}'[%s]%s' \\\n", repeat, f.short, f.long, desc, action)
		} else {
			fmt.Fprintf(&b, "  '%s--%s[%s]%s' \\\n", repeat, f.long, desc, action)
		}
	}
	b.WriteString("  && return 0\n")
	return b.String()
}
