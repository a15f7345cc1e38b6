package declared

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/size"
)

// A Proxmox VE guest config is read the way qemu-server's parse_vm_config
// (src/PVE/QemuServer.pm:1939-2082 @e6352be67f70) and pve-container's
// parse_pct_config (src/PVE/LXC/Config.pm:1126-1222 @94f558522ef6) read
// it, for the main section only: the lines before the first section
// header, which describe the guest as it is now. [PENDING] (qemu),
// [pve:pending] (lxc), [special:cloudinit|fleecing] and [snapshot] sections
// repeat keys such as memory and are never read.
var (
	// qemuSection is any "[...]" header: qemu-server ends the main section
	// at [PENDING], [special:...], a snapshot name, and (with a warning)
	// any other "[...]" line (QemuServer.pm:1990-2017).
	qemuSection = regexp.MustCompile(`^\[[^\]]*\][ \t\r\f\v]*$`)
	// lxcSection is [pve:pending] or a snapshot name (Config.pm:1160-1166).
	lxcSection = regexp.MustCompile(`(?i)^\[(?:pve:pending|[a-z][a-z0-9_\-]+)\][ \t\r\f\v]*$`)
	// qemuKey and lxcKey are the "key: value" lines (QemuServer.pm:2044,
	// Config.pm:1206); the value has its trailing white space trimmed.
	qemuKey = regexp.MustCompile(`^([a-z][a-z_\-]*\d*):[ \t\r\f\v]*(.+?)[ \t\r\f\v]*$`)
	lxcKey  = regexp.MustCompile(`^([a-z][a-z_]*\d*):[ \t\r\f\v]*(.+?)[ \t\r\f\v]*$`)
	// lxcRaw is a raw lxc.* key, with ':' or '=' (Config.pm:1179); raw
	// keys may repeat (lxc.mount.entry, lxc.idmap).
	lxcRaw = regexp.MustCompile(`^(lxc\.[a-z0-9_\-\.]+)(?::|[ \t\r\f\v]*=)[ \t\r\f\v]*(.*?)[ \t\r\f\v]*$`)
	// descr is the description key, which qemu-server and pve-container
	// append to rather than replace.
	descr = regexp.MustCompile(`^description:`)
)

// pveKV is one key of a config's main section.
type pveKV struct {
	value string
	line  int
}

// scanPVE reads the main section of a PVE config (lxc: a container's,
// else a VM's) into its keys. A line that is not blank, a '#' comment (the
// description), a section header or "key: value" is an error, and so is a
// key given twice: qemu-server and pve-container would silently take the
// last one, while the admin reading the file may see the first.
func scanPVE(r io.Reader, name string, lxc bool) (kv map[string]pveKV, keys []string, err error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPVEConfig+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxPVEConfig {
		return nil, nil, fmt.Errorf("%s: more than %d bytes, the most a file in /etc/pve can hold (pmxcfs)", name, maxPVEConfig)
	}
	kv = map[string]pveKV{}
	for n, line := range strings.Split(string(b), "\n") {
		n++
		if strings.Trim(line, " \t\r\f\v") == "" {
			continue
		}
		if lxc && lxcSection.MatchString(line) || !lxc && qemuSection.MatchString(line) {
			break // the main section ends here
		}
		if line[0] == '#' || descr.MatchString(line) {
			continue
		}
		if lxc && lxcRaw.MatchString(line) {
			continue // raw LXC keys: none of them is read here
		}
		re := qemuKey
		if lxc {
			re = lxcKey
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			return nil, nil, lineError(name, n, "not a \"key: value\" line: %q", clip(line))
		}
		key, value := m[1], m[2]
		if prev, dup := kv[key]; dup {
			return nil, nil, lineError(name, n, "duplicate key %q (first at line %d): Proxmox would take this one, "+
				"the file says two things; remove one", key, prev.line)
		}
		kv[key] = pveKV{value: value, line: n}
		keys = append(keys, key)
	}
	return kv, keys, nil
}

// clip shortens s for a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// pveBool reads a boolean as qemu-server's and pve-container's check_type
// do: 1, on, yes, true or 0, off, no, false (the words in any case).
func pveBool(name, key string, kv pveKV) (bool, error) {
	v := kv.value
	switch {
	case v == "1" || strings.EqualFold(v, "on") || strings.EqualFold(v, "yes") || strings.EqualFold(v, "true"):
		return true, nil
	case v == "0" || strings.EqualFold(v, "off") || strings.EqualFold(v, "no") || strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, lineError(name, kv.line, "%s: %q is not a boolean (want 1 or 0)", key, clip(v))
}

// pveMiB reads a size in MiB: digits only, as check_type's integer
// (^(\d+)$); with signed, a leading + or - is read too, as pve-common's
// is_integer (^[+-]?\d+$), which the memory property string uses. min is
// the schema's minimum. The result is in bytes.
func pveMiB(name, key string, kv pveKV, v string, signed bool, min uint64) (uint64, error) {
	s := v
	neg := false
	if signed && s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		digits := strings.TrimRight(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \t")
		if unit := strings.TrimSpace(s[len(digits):]); digits != "" && unit != "" && strings.Trim(digits, "0123456789") == "" {
			return 0, lineError(name, kv.line, "%s: unknown unit %q in %q: Proxmox takes a whole number of MiB "+
				"with no unit (e.g. %s: 4096)", key, clip(unit), clip(v), key)
		}
		return 0, lineError(name, kv.line, "%s: %q is not a whole number of MiB", key, clip(v))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if neg && (err != nil || n != 0) {
		return 0, lineError(name, kv.line, "%s: %s MiB is negative", key, v)
	}
	if err != nil || n > MaxBytes/size.MiB {
		return 0, lineError(name, kv.line, "%s: %s MiB is more than %s: not a real guest", key, v, size.Format(MaxBytes))
	}
	if n < min {
		return 0, lineError(name, kv.line, "%s: %d MiB is below Proxmox's minimum of %d MiB", key, n, min)
	}
	return n * size.MiB, nil
}

// vmidOf is the VMID of a config file name: "<digits>.conf", as
// parse_vm_config and parse_pct_config match it; "" otherwise.
func vmidOf(name string) string {
	base := path.Base(name)
	id, ok := strings.CutSuffix(base, ".conf")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	return id
}

// ParsePVEQemu reads a Proxmox VE VM config (/etc/pve/qemu-server/<vmid>.conf);
// name is the file's path, for messages and the VMID. From the main
// section:
//
//   - memory: a property string whose default key is current ("4096" is
//     "current=4096"), whole MiB, minimum 16, 512 when absent
//     (src/PVE/QemuServer/Memory.pm:68-95 @e6352be67f70);
//   - balloon: MiB, the auto-ballooning minimum; 0 disables the balloon
//     device (QemuServer.pm:317-324): shown, never counted;
//   - hugepages: 2, 1024 (the page size in MiB) or any (Memory.pm:563-596
//     hugepages_size: 1 GiB pages when the host has them and the memory is
//     a multiple of 1 GiB, else 2 MiB), and keephugepages;
//   - hostpci0..hostpci15: PCI passthrough, whose VFIO mapping pins all
//     guest memory (src/PVE/QemuServer/PCI.pm:26);
//   - onboot, template, name (default "VM <vmid>", QemuServer.pm:2574).
//
// Whether it runs is not in the file: see ReadPVEQemu.
func ParsePVEQemu(r io.Reader, name string) (Guest, error) {
	kv, keys, err := scanPVE(r, name, false)
	if err != nil {
		return Guest{}, err
	}
	id := vmidOf(name)
	g := Guest{Source: PVEQemu, ID: id, Path: name, Name: "VM " + id, DeclaredBytes: 512 * size.MiB}
	if id != "" {
		g.Cgroup = "qemu.slice/" + id + ".scope" // src/PVE/QemuServer/CGroup.pm:14
	}
	if v, ok := kv["name"]; ok {
		g.Name = v.value
	}
	if v, ok := kv["memory"]; ok {
		if g.DeclaredBytes, err = pveMemory(name, v); err != nil {
			return Guest{}, err
		}
	}
	if v, ok := kv["balloon"]; ok {
		if g.BalloonMinBytes, err = pveMiB(name, "balloon", v, v.value, false, 0); err != nil {
			return Guest{}, err
		}
	}
	for _, key := range keys {
		v := kv[key]
		switch {
		case key == "onboot":
			g.OnBoot, err = pveBool(name, key, v)
		case key == "template":
			g.Template, err = pveBool(name, key, v)
		case key == "keephugepages":
			g.KeepHugepages, err = pveBool(name, key, v)
		case strings.HasPrefix(key, "hostpci") && len(key) > len("hostpci"):
			g.Pinned = true
		}
		if err != nil {
			return Guest{}, err
		}
	}
	if v, ok := kv["hugepages"]; ok {
		use := HugePageUse{Bytes: g.DeclaredBytes}
		switch v.value {
		case "2":
			use.PageSize = 2 * size.MiB
		case "1024":
			use.PageSize = size.GiB
		case "any":
			use.Any = true
		default:
			return Guest{}, lineError(name, v.line, "hugepages: %q: want any, 2 or 1024 (the page size in MiB)", clip(v.value))
		}
		if use.PageSize != 0 && g.DeclaredBytes%use.PageSize != 0 {
			return Guest{}, lineError(name, kv["memory"].line, "memory: %s is not a multiple of the %s huge pages "+
				"the VM asks for (qemu-server refuses to start it)", size.Format(g.DeclaredBytes), size.Format(use.PageSize))
		}
		g.Hugepages = []HugePageUse{use}
	}
	return g, nil
}

// pveMemory reads the memory property string: "N" or "current=N", MiB.
func pveMemory(name string, v pveKV) (uint64, error) {
	var cur string
	seen := false
	for _, part := range strings.Split(v.value, ",") {
		if strings.Trim(part, " \t\r\f\v") == "" {
			continue
		}
		val := part
		if k, val2, ok := strings.Cut(part, "="); ok {
			if k != "current" {
				return 0, lineError(name, v.line, "memory: unknown property %q (want current=<MiB>)", clip(k))
			}
			val = val2
		}
		if seen {
			return 0, lineError(name, v.line, "memory: current given twice in %q", clip(v.value))
		}
		seen, cur = true, val
	}
	if !seen {
		return 0, lineError(name, v.line, "memory: no size in %q", clip(v.value))
	}
	return pveMiB(name, "memory", v, cur, true, 16)
}

// ParsePVELXC reads a Proxmox VE container config (/etc/pve/lxc/<ctid>.conf);
// name is the file's path. From the main section: memory (whole MiB,
// minimum 16, 512 when absent: src/PVE/LXC/Config.pm:594-600 and
// src/PVE/LXC.pm:316,822 "$conf->{memory} || 512" @94f558522ef6), which
// pve-container writes as the container's memory.max
// (Config.pm:1596-1610); swap is not RAM and is not read; onboot,
// template, hostname (default "CT<ctid>", LXC.pm:819).
func ParsePVELXC(r io.Reader, name string) (Guest, error) {
	kv, _, err := scanPVE(r, name, true)
	if err != nil {
		return Guest{}, err
	}
	id := vmidOf(name)
	g := Guest{Source: PVELXC, ID: id, Path: name, Name: "CT" + id, DeclaredBytes: 512 * size.MiB}
	if id != "" {
		g.Cgroup = "lxc/" + id // "lxc.cgroup.dir.container = lxc/$vmid", LXC.pm:725
	}
	if v, ok := kv["hostname"]; ok {
		g.Name = v.value
	}
	if v, ok := kv["memory"]; ok {
		if g.DeclaredBytes, err = pveMiB(name, "memory", v, v.value, false, 16); err != nil {
			return Guest{}, err
		}
	}
	if v, ok := kv["onboot"]; ok {
		if g.OnBoot, err = pveBool(name, "onboot", v); err != nil {
			return Guest{}, err
		}
	}
	if v, ok := kv["template"]; ok {
		if g.Template, err = pveBool(name, "template", v); err != nil {
			return Guest{}, err
		}
	}
	return g, nil
}
