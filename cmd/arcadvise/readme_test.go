package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// TestREADMEExamples runs every ./run.sh example of README.md as written,
// from the repository root: in code blocks and in `code` spans. On a
// machine without the zfs module run.sh reads the bundled snapshot, so each
// must work on any machine and exit 0.
func TestREADMEExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs ./run.sh for each example")
	}
	repo := testutil.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)(?:^|`)(\\./run\\.sh(?: [^`#\\n]*)?)").FindAllStringSubmatch(string(readme), -1) {
		cmd := strings.TrimSpace(m[1])
		if !seen[cmd] {
			seen[cmd] = true
			examples = append(examples, cmd)
		}
	}
	if len(examples) < 3 {
		t.Fatalf("found %d ./run.sh examples in README.md: %q", len(examples), examples)
	}
	for _, ex := range examples {
		t.Run(ex, func(t *testing.T) {
			c := exec.Command("bash", "-c", ex)
			c.Dir = repo
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", ex, err, out)
			}
		})
	}
}
