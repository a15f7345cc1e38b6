package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestREADMEWorkedExample: the README's worked example shows the seed's
// output as testdata/script/seed.txtar expects it, from the answer to the
// end of the known-bugs section, word for word.
func TestREADMEWorkedExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := string(readme)
	i := strings.Index(r, "$ arcadvise --reserve 20G\n")
	if i < 0 {
		t.Fatal("README has no worked example")
	}
	r = r[i+len("$ arcadvise --reserve 20G\n"):]
	j := strings.Index(r, "\n...\n```")
	if j < 0 {
		t.Fatal("the worked example does not end with ...")
	}
	example := r[:j+1]
	ar, err := txtar.ParseFile(filepath.Join("testdata", "script", "seed.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, f := range ar.Files {
		if f.Name == "want.txt" {
			want = string(f.Data)
		}
	}
	k := strings.Index(want, "\nMemory\n")
	if want == "" || k < 0 {
		t.Fatal("seed.txtar has no want.txt with a Memory section")
	}
	if example != want[:k+1] {
		t.Errorf("README's worked example and seed.txtar's output differ:\nREADME:\n%s\nseed:\n%s", example, want[:k+1])
	}
}
