// Package buildinfo says which arcadvise this is: the version stamped at
// build time, else the module version, and the VCS revision Go records in
// the binary.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Version is set at build time by packagers:
// go build -ldflags "-X github.com/arcadvise/arcadvise/internal/buildinfo.Version=1.2.3".
var Version = ""

// String is the version, then the VCS revision when the binary was built
// from a checkout: "1.2.3" (stamped), "v0.1.0" (go install of a release),
// "v0.0.0-20261201224745-eac8b8d56a40+dirty (eac8b8d, modified)" (built from
// a checkout with -buildvcs), "dev" (no information).
func String() string {
	bi, ok := debug.ReadBuildInfo()
	v := Version
	if v == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	var rev []string
	if ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && len(s.Value) >= 7:
				rev = append([]string{s.Value[:7]}, rev...)
			case s.Key == "vcs.modified" && s.Value == "true":
				rev = append(rev, "modified")
			}
		}
	}
	if len(rev) == 0 {
		return v
	}
	return v + " (" + strings.Join(rev, ", ") + ")"
}
