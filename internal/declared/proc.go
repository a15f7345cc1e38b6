package declared

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// A PVE VM runs when qemu-server's vm_running_locally says so
// (src/PVE/QemuServer/Helpers.pm:176-225 @e6352be67f70): the first line
// of /var/run/qemu-server/<vmid>.pid is a pid, that process's command
// line is a QEMU ("kvm" or "qemu-*") with "-pidfile" naming that same
// pid file, and /proc/<pid>/stat shows it alive, not a zombie
// (check_process_running, pve-common src/PVE/ProcFSTools.pm:358-372
// @f665029eac78). The command-line check is what guards against pid
// reuse: a pid file left by a crashed QEMU whose pid now belongs to some
// other process does not count. Anything else is "not running", as
// qemu-server has it.

// parsePidFile reads a pid file as qemu-server does: the first line,
// m/^(\d+)$/.
func parsePidFile(b []byte) (int, bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if len(line) == 0 || len(bytes.Trim(line, "0123456789")) != 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(string(line))
	return pid, err == nil && pid > 0
}

var qemuBinary = regexp.MustCompile(`kvm$|(?:^|/)qemu-[^/]+$`)

// parseQemuCmdline reads /proc/<pid>/cmdline as qemu-server's parse_cmdline
// (Helpers.pm:144-176): the first line, split at NUL bytes; nil unless
// argv[0] is a QEMU; then every "-opt" or "--opt" with the argument that
// follows it (a later one replaces an earlier). Options without an
// argument map to "".
func parseQemuCmdline(b []byte) map[string]string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	args := strings.Split(string(line), "\x00")
	if len(args) == 0 || args[0] == "" || !qemuBinary.MatchString(args[0]) {
		return nil
	}
	opts := map[string]string{}
	pending, has := "", false
	for _, a := range args {
		if a == "" || a == "0" { // Perl: next if !$p
			continue
		}
		if strings.HasPrefix(a, "-") {
			name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
			if has {
				opts[pending] = ""
			}
			pending, has = name, true
		} else if has {
			opts[pending] = a
			has = false
		}
	}
	return opts
}

// parseStatState returns the state letter of /proc/<pid>/stat ("R", "S",
// "Z", ...): the field after the command name, which is in parentheses and
// may itself hold ") ".
func parseStatState(b []byte, pid int) (byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(strconv.Itoa(pid)+" ("))
	if !ok {
		return 0, false
	}
	i := bytes.LastIndex(rest, []byte(") "))
	if i < 0 || i+2 >= len(rest) {
		return 0, false
	}
	s := rest[i+2]
	if i+3 < len(rest) && rest[i+3] != ' ' {
		return 0, false
	}
	return s, true
}

// pveQemuRunning applies vm_running_locally to the VM vmid under the root.
func pveQemuRunning(fsys *rootfs.FS, vmid string) (bool, error) {
	pidfile := "/var/run/qemu-server/" + vmid + ".pid"
	b, ok, err := readOpt(fsys, pidfile, maxSmall)
	if err != nil || !ok {
		return false, err
	}
	pid, ok := parsePidFile(b)
	if !ok {
		return false, nil
	}
	proc := "proc/" + strconv.Itoa(pid)
	cmd, ok, err := readOpt(fsys, proc+"/cmdline", maxCmdline)
	if err != nil || !ok {
		return false, err
	}
	if opts := parseQemuCmdline(cmd); opts == nil || opts["pidfile"] != pidfile {
		return false, nil
	}
	st, ok, err := readOpt(fsys, proc+"/stat", maxSmall)
	if err != nil || !ok {
		return false, err
	}
	state, ok := parseStatState(st, pid)
	return ok && state != 'Z', nil
}
