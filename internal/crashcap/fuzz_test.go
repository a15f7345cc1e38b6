package crashcap

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseNetconsole: any value either parses into targets whose log host
// is an IP address, or is refused with an error; it never panics.
func FuzzParseNetconsole(f *testing.F) {
	f.Add("@/eth0,6666@192.0.2.1/")
	f.Fuzz(func(t *testing.T, in string) {
		targets, err := ParseNetconsole(in)
		if err != nil {
			if targets != nil {
				t.Fatalf("targets %v with error %v", targets, err)
			}
			return
		}
		if len(in) > maxNetconsoleParam || len(targets) != strings.Count(in, ";")+1 {
			t.Fatalf("%q gave %d targets", in, len(targets))
		}
		for _, tg := range targets {
			if !tg.LogHost.IsValid() || tg.LogHost.Zone() != "" || !strings.Contains(tg.Config, "@") {
				t.Fatalf("%q: target %+v", in, tg)
			}
			if _, err := netip.ParseAddr(tg.LogHost.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
