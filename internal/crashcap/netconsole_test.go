package crashcap

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseNetconsole(t *testing.T) {
	for _, tt := range []struct {
		in      string
		hosts   []string // log host:port of each target (port 0: default)
		dev     string   // interface of the first target
		wantErr string
	}{
		// Documentation/networking/netconsole.rst's examples.
		{in: "4444@10.0.0.1/eth1,9353@10.0.0.2/12:34:56:78:9a:bc", hosts: []string{"10.0.0.2:9353"}, dev: "eth1"},
		{in: "@/,@192.168.3.1/", hosts: []string{"192.168.3.1:0"}},
		{in: "@/eth1,6892@192.168.0.1/;@/eth0,6666@10.0.0.1/", hosts: []string{"192.168.0.1:6892", "10.0.0.1:6666"}, dev: "eth1"},
		{in: "+@/,@192.168.3.1/", hosts: []string{"192.168.3.1:0"}},
		{in: "+r@/,@192.168.3.1/", hosts: []string{"192.168.3.1:0"}},
		{in: "@/eth0,@fd00:1:2:3::1/", hosts: []string{"[fd00:1:2:3::1]:0"}, dev: "eth0"},
		{in: "6665@/12:34:56:78:9a:bc,6666@192.0.2.1/", hosts: []string{"192.0.2.1:6666"}, dev: ""},
		{in: strings.TrimPrefix(SuggestedNetconsole, "options netconsole netconsole="), hosts: []string{"192.0.2.1:6666"}, dev: "IFACE"},
		// What the kernel refuses.
		{in: "@/eth0,6666@loghost/", wantErr: `target 1 "@/eth0,6666@loghost/": log host "loghost" is not an IP address: the kernel takes an address, not a host name`},
		{in: "@/eth0,6666@/", wantErr: "log host address is missing"},
		{in: "@/eth0,6666@192.0.2.1", wantErr: `no "/" after the log host`},
		{in: "r@/,@192.168.3.1/", wantErr: "'r' (the kernel release) needs the extended format"},
		{in: "99999@/eth0,6666@192.0.2.1/", wantErr: `source port "99999" is not a port number`},
		{in: "@10.0.0.1/eth0,6666@2001:db8::1/", wantErr: "not the same IP version"},
		{in: "@/eth0,6666@192.0.2.1/zz", wantErr: `"zz" after the log host is not a MAC address`},
		{in: "@/eth0,6666@fe80::1%eth0/", wantErr: "is not an IP address"},
		{in: "@/eth0,6666@192.0.2.1/;", wantErr: `target 2 "": no "@" after the source port`},
		{in: "", wantErr: "empty"},
		{in: strings.Repeat("1", 256), wantErr: "256 bytes, more than the 255"},
	} {
		got, err := ParseNetconsole(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseNetconsole(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNetconsole(%q): %v", tt.in, err)
			continue
		}
		var hosts []string
		for _, g := range got {
			hosts = append(hosts, netip.AddrPortFrom(g.LogHost, g.Port).String())
		}
		if strings.Join(hosts, " ") != strings.Join(tt.hosts, " ") || got[0].Dev != tt.dev {
			t.Errorf("ParseNetconsole(%q) = %v (dev %q), want %v (dev %q)", tt.in, hosts, got[0].Dev, tt.hosts, tt.dev)
		}
	}
}

// TestSuggestedFixLeavesReady: after the commands the report suggests
// (the modprobe.d line, the modules-load.d entry, modprobe netconsole),
// arcadvise's own reading says netconsole is ready.
func TestSuggestedFixLeavesReady(t *testing.T) {
	for _, want := range []string{"echo '" + SuggestedNetconsole + "' > /etc/modprobe.d/netconsole.conf", "modprobe netconsole", "192.0.2.1"} {
		if !strings.Contains(fixText, want) {
			t.Fatalf("the fix %q does not say %q", fixText, want)
		}
	}
	files := map[string]string{
		"etc/os-release":                     "ID=debian\n",
		"etc/modprobe.d/netconsole.conf":     SuggestedNetconsole + "\n",
		"etc/modules-load.d/netconsole.conf": "netconsole\n",
		// What modprobe leaves in /sys for a loaded module.
		"sys/module/netconsole/initstate":            "live\n",
		"sys/module/netconsole/refcnt":               "0\n",
		"sys/module/netconsole/parameters/oops_only": "N\n",
	}
	r, err := read(t, mkroot(t, files), "root=/dev/vda ro")
	if err != nil {
		t.Fatal(err)
	}
	nc := item(t, r, "netconsole")
	if !nc.Ready || !r.KeepsTrace || !strings.Contains(nc.Value, "target 192.0.2.1:6666 from /etc/modprobe.d/netconsole.conf:1") {
		t.Errorf("after the suggested fix: %+v", nc)
	}
}
