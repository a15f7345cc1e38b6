// Command completions prints arcadvise's shell completion, generated from
// its flag set (internal/cli), so it cannot miss a flag:
//
//	go run ./packaging/completions bash >arcadvise.bash
//	go run ./packaging/completions zsh >_arcadvise
package main

import (
	"fmt"
	"os"

	"github.com/arcadvise/arcadvise/internal/cli"
)

func main() {
	o, err := cli.Parse(nil)
	if err != nil || len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: completions bash|zsh")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "bash":
		fmt.Print(o.Bash())
	case "zsh":
		fmt.Print(o.Zsh())
	default:
		fmt.Fprintln(os.Stderr, "usage: completions bash|zsh")
		os.Exit(2)
	}
}
