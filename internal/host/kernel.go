package host

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// KernelPath is the kernel release below the root directory (what uname -r
// prints).
const KernelPath = "proc/sys/kernel/osrelease"

// ParseKernelRelease reads the release from the first line: printable,
// without spaces, at most 64 bytes (the kernel's __NEW_UTS_LEN).
func ParseKernelRelease(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 256)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\n")
	switch {
	case line == "":
		return "", errors.New("empty")
	case len(line) > 64:
		return "", fmt.Errorf("%d bytes, more than a kernel release holds (64)", len(line))
	case strings.IndexFunc(line, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' ' }) >= 0:
		return "", fmt.Errorf("%q is not a kernel release", line)
	}
	return line, nil
}

// readKernelRelease reads <root>/proc/sys/kernel/osrelease, confined to the
// root; "" without error when the file is absent (older snapshots).
func readKernelRelease(fsys *rootfs.FS) (string, error) {
	data, err := fsys.ReadFile(KernelPath, 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	rel, err := ParseKernelRelease(strings.NewReader(string(data)))
	if err != nil {
		return "", fmt.Errorf("%s:1: %w", fsys.Path(KernelPath), err)
	}
	return rel, nil
}
