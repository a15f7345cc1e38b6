package crashcap

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/rootfs"
)

// netconsole takes its targets from three places (drivers/net/netconsole.c,
// Documentation/networking/netconsole.rst in torvalds/linux):
//
//   - the module parameter "netconsole", declared with
//     module_param_string(netconsole, config, MAX_PARAM_LENGTH, 0): with
//     permission 0 it never appears under /sys/module/netconsole/parameters,
//     so the running value cannot be read back. A loadable netconsole gets
//     it from modprobe: "options netconsole netconsole=..." in modprobe.d,
//     then "netconsole.netconsole=..." from the kernel command line (kmod
//     appends those after the files; the last value wins). A built-in one
//     gets "netconsole.netconsole=..." or, through __setup("netconsole=")
//     under #ifndef MODULE, a plain "netconsole=..." from the command line;
//   - configfs, /sys/kernel/config/netconsole/<target>/enabled (a kernel
//     built with CONFIG_NETCONSOLE_DYNAMIC), which does show the running
//     targets.
//
// So a target given as a parameter is read from the configuration it came
// from, and the report says that the kernel does not show it.

// SuggestedNetconsole is the modprobe.d line the fix suggests: the log
// host is an IP address (192.0.2.1, a documentation address, stands for
// it), because the kernel parses it with netpoll_parse_ip_addr() and does
// no name lookup; IFACE stands for the interface.
const SuggestedNetconsole = "options netconsole netconsole=@/IFACE,6666@192.0.2.1/"

// maxNetconsoleParam is MAX_PARAM_LENGTH: param_set_copystring() refuses a
// value that does not fit 256 bytes with its terminating NUL.
const maxNetconsoleParam = 255

// NetconsoleTarget is one target of the parameter's syntax,
// [+][r][src-port]@[src-ip]/[dev],[tgt-port]@<tgt-ip>/[tgt-macaddr].
type NetconsoleTarget struct {
	Config  string     // the target as written
	Dev     string     // the interface, "" when it names a MAC address or the default (eth0)
	LogHost netip.Addr // tgt-ip
	Port    uint16     // tgt-port, 0 for the default (6666)
}

// ParseNetconsole parses the value of the netconsole parameter: targets
// separated by ';', each as netconsole_parser_cmdline() reads it. The
// error names the first target the kernel would refuse and why, a host
// name where an address belongs among them.
func ParseNetconsole(value string) ([]NetconsoleTarget, error) {
	if len(value) > maxNetconsoleParam {
		return nil, fmt.Errorf("%d bytes, more than the %d the kernel takes for the netconsole parameter", len(value), maxNetconsoleParam)
	}
	if value == "" {
		return nil, errors.New("empty")
	}
	var out []NetconsoleTarget
	for i, cfg := range strings.Split(value, ";") {
		t, err := parseTarget(cfg)
		if err != nil {
			return nil, fmt.Errorf("target %d %q: %w", i+1, cfg, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// parseTarget follows netconsole_parser_cmdline() step by step.
func parseTarget(cfg string) (NetconsoleTarget, error) {
	t := NetconsoleTarget{Config: cfg}
	cur := cfg
	extended := strings.HasPrefix(cur, "+")
	cur = strings.TrimPrefix(cur, "+")
	if strings.HasPrefix(cur, "r") {
		if !extended {
			return t, errors.New("'r' (the kernel release) needs the extended format, '+r'")
		}
		cur = cur[1:]
	}
	// until cuts cur at sep, which must be there.
	until := func(sep byte, what string) (string, error) {
		i := strings.IndexByte(cur, sep)
		if i < 0 {
			return "", fmt.Errorf("no %q after the %s", string(sep), what)
		}
		field := cur[:i]
		cur = cur[i+1:]
		return field, nil
	}
	port := func(s, what string) (uint16, error) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a port number", what, s)
		}
		return uint16(n), nil
	}
	srcPort, err := until('@', "source port")
	if err != nil {
		return t, err
	}
	if _, err := port(srcPort, "source port"); err != nil {
		return t, err
	}
	srcIP, err := until('/', "source address")
	if err != nil {
		return t, err
	}
	var src netip.Addr
	if srcIP != "" {
		if src, err = ipAddr(srcIP); err != nil {
			return t, fmt.Errorf("source %w", err)
		}
	}
	dev, err := until(',', "interface")
	if err != nil {
		return t, err
	}
	if strings.Contains(dev, ":") {
		if !isMAC(dev) {
			return t, fmt.Errorf("interface %q is neither a name nor a MAC address", dev)
		}
	} else {
		t.Dev = dev
	}
	tgtPort, err := until('@', "log host's port")
	if err != nil {
		return t, err
	}
	if t.Port, err = port(tgtPort, "log host's port"); err != nil {
		return t, err
	}
	host, err := until('/', "log host")
	if err != nil {
		return t, err
	}
	if t.LogHost, err = ipAddr(host); err != nil {
		return t, fmt.Errorf("log host %w", err)
	}
	if src.IsValid() && src.Is4() != t.LogHost.Is4() {
		return t, errors.New("the source and the log host are not the same IP version")
	}
	if cur != "" && !isMAC(cur) {
		return t, fmt.Errorf("%q after the log host is not a MAC address", cur)
	}
	return t, nil
}

// ipAddr parses an address as netpoll_parse_ip_addr() does: IPv4 dotted
// quad or IPv6, nothing else (no names, no zone).
func ipAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		if s == "" {
			return netip.Addr{}, errors.New("address is missing: the kernel needs the log host's IP address")
		}
		return netip.Addr{}, fmt.Errorf("%q is not an IP address: the kernel takes an address, not a host name", s)
	}
	return a.Unmap(), nil
}

// isMAC reports whether s is six hex octets separated by ':', as
// mac_pton() reads them.
func isMAC(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 {
			return false
		}
		if _, err := strconv.ParseUint(p, 16, 8); err != nil {
			return false
		}
	}
	return true
}

// netconsoleSetting is the netconsole parameter as some configuration
// gives it.
type netconsoleSetting struct {
	value string
	where string // "/etc/modprobe.d/netconsole.conf:3", "/proc/cmdline (netconsole=)"
}

// modprobeNetconsole returns the last netconsole= option modprobe.d gives
// the netconsole module, if any (modprobe.Load read the files).
func modprobeNetconsole(cfg *modprobe.Config) (netconsoleSetting, bool) {
	var last netconsoleSetting
	found := false
	for _, o := range cfg.ModuleOptions("netconsole") {
		if o.Param == "netconsole" {
			last, found = netconsoleSetting{value: o.Value, where: o.Where()}, true
		}
	}
	return last, found
}

// cmdlineNetconsole returns the last "netconsole.netconsole=" and the last
// plain "netconsole=" word of the kernel command line.
func cmdlineNetconsole(cmdline string) (param, setup netconsoleSetting, hasParam, hasSetup bool) {
	for _, w := range modprobe.KernelArgs(cmdline) {
		if v, ok := strings.CutPrefix(w, "netconsole.netconsole="); ok {
			param, hasParam = netconsoleSetting{value: v, where: "/proc/cmdline (netconsole.netconsole=)"}, true
		} else if v, ok := strings.CutPrefix(w, "netconsole="); ok {
			setup, hasSetup = netconsoleSetting{value: v, where: "/proc/cmdline (netconsole=)"}, true
		}
	}
	return param, setup, hasParam, hasSetup
}

// netconsoleItem reads the netconsole state under the root: the module
// (loaded, built in), its configfs targets, and the parameter as the
// configuration gives it.
func netconsoleItem(fsys *rootfs.FS, cfg *modprobe.Config, read func(string) (string, bool, error)) (Item, error) {
	cmdline := cfg.Cmdline
	_, err := fsys.Stat("sys/module/netconsole")
	loaded := err == nil
	// A loadable module has /sys/module/<name>/initstate; a built-in one
	// has only its parameters there (oops_only, permission 0600).
	_, err = fsys.Stat("sys/module/netconsole/initstate")
	builtin := loaded && errors.Is(err, fs.ErrNotExist)

	it := Item{Name: "netconsole", Source: "/sys/module/netconsole, /sys/kernel/config/netconsole, /proc/cmdline, modprobe.d"}
	mod := "module loaded: " + yesNo(loaded)
	if builtin {
		mod = "built into the kernel"
	}

	// configfs: the running targets.
	var enabled []string
	if des, err := fsys.ReadDir("sys/kernel/config/netconsole"); err == nil {
		for i, de := range des {
			if i >= 64 {
				break
			}
			dir := "sys/kernel/config/netconsole/" + de.Name()
			if on, _, _ := read(dir + "/enabled"); on == "1" {
				t := "configfs " + de.Name()
				if ip, ok, _ := read(dir + "/remote_ip"); ok && ip != "" {
					t += " → " + ip
				}
				enabled = append(enabled, t)
			}
		}
	}
	if len(enabled) > 0 {
		it.Ready = loaded
		it.Value = mod + ", target " + strings.Join(enabled, ", ")
		if !loaded {
			it.Fix = "configfs targets need the module: modprobe netconsole"
		}
		return it, nil
	}

	// The parameter, from the configuration that gives it.
	param, setup, hasParam, hasSetup := cmdlineNetconsole(cmdline)
	var set netconsoleSetting
	found := false
	var note string
	switch {
	case builtin:
		// parse_args() runs the command line in order; of the two forms
		// the later word wins. Both are on it only in odd setups: take
		// netconsole.netconsole=, the module parameter, and say so.
		switch {
		case hasParam:
			set, found = param, true
			if hasSetup {
				note = "; the command line also has netconsole=, the later of the two applies"
			}
		case hasSetup:
			set, found = setup, true
		}
	default:
		if mp, ok := modprobeNetconsole(cfg); ok {
			set, found = mp, true
		}
		if hasParam {
			set, found = param, true
		}
		if hasSetup && !found {
			it.Value = mod + ", target none: netconsole= on the kernel command line is read only by a netconsole built into the kernel, and this one is a module"
			it.Fix = "give the module its target as netconsole.netconsole=... on the kernel command line (kmod passes it on), or in modprobe.d: " + fixText
			return it, nil
		}
	}
	if !found {
		it.Value = mod + ", target none"
		switch {
		case builtin:
			it.Value += " on the kernel command line (netconsole= or netconsole.netconsole=), the only place a built-in netconsole takes it from besides configfs"
		case loaded:
			it.Value += " (a target given to modprobe by hand cannot be seen: the kernel does not show the netconsole parameter)"
		}
		it.Fix = "sends the panic to a log host: " + fixText
		if builtin {
			it.Fix = "sends the panic to a log host: add " + strings.TrimPrefix(SuggestedNetconsole, "options netconsole ") + " to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot), with your interface for IFACE and the log host's IP address for 192.0.2.1 (an address: the kernel does no name lookup)"
		}
		return it, nil
	}
	targets, err := ParseNetconsole(set.value)
	if err != nil {
		it.Value = mod + ", target refused by the kernel: " + set.where + ": " + err.Error()
		it.Fix = "correct " + set.where + ": the syntax is [+][src-port]@[src-ip]/[dev],[tgt-port]@<tgt-ip>/[tgt-mac], e.g. " + strings.TrimPrefix(SuggestedNetconsole, "options netconsole ")
		return it, nil
	}
	var hosts []string
	for _, t := range targets {
		port := t.Port
		if port == 0 {
			port = 6666
		}
		hosts = append(hosts, netip.AddrPortFrom(t.LogHost, port).String())
	}
	it.Value = mod + ", target " + strings.Join(hosts, ", ") + " from " + set.where + note + " (as configured: the kernel does not show the running netconsole parameter)"
	it.Ready = loaded
	if !loaded {
		it.Fix = "the target is configured but the module is not loaded: modprobe netconsole, and list it in /etc/modules-load.d/netconsole.conf so it loads at boot"
	}
	return it, nil
}

// fixText is what to do when no netconsole target is configured.
const fixText = "echo '" + SuggestedNetconsole + "' > /etc/modprobe.d/netconsole.conf; echo netconsole > /etc/modules-load.d/netconsole.conf; modprobe netconsole; with your interface for IFACE and the log host's IP address for 192.0.2.1 (an address: the kernel does no name lookup), and a listener such as nc -u -l 6666 there"
