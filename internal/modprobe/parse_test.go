package modprobe

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "8589934592", want: 8589934592},
		{in: "0x200000000", want: 8589934592},
		{in: "0X1f", want: 31},
		{in: "0100", want: 64}, // leading 0: octal, as kstrtoull base 0
		{in: "0", want: 0},
		{in: "+5", want: 5},
		{in: "5\n", want: 5}, // one trailing newline is allowed
		{in: "18446744073709551615", want: 1<<64 - 1},
		{in: "0xffffffffffffffff", want: 1<<64 - 1},
		{in: "08", wantErr: "octal"},
		{in: "0x", wantErr: "not a number"}, // "0" then "x": no hex digit after 0x
		{in: "0xg", wantErr: "not a number"},
		{in: "", wantErr: "not a number"},
		{in: " 5", wantErr: "not a number"},
		{in: "5 ", wantErr: "not a number"},
		{in: "5\n\n", wantErr: "not a number"},
		{in: "-1", wantErr: "not a number"},
		{in: "8G", wantErr: "not a number"},
		{in: "8589934592 # 8GB", wantErr: "not a number"},
		{in: "$MY_ZFS_ARC_MAX", wantErr: "not a number"},
		{in: "18446744073709551616", wantErr: "out of range"},
		{in: "0x10000000000000000", wantErr: "out of range"},
	}
	for _, tt := range tests {
		got, err := ParseValue(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseValue(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseValue(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// The real configurations in ../shared/fixtures/modprobe, read in place.
func TestParseFileFixtures(t *testing.T) {
	tests := []struct {
		name string
		want []string // param=value@line
		warn []string // substrings, in order
	}{
		{
			name: "shinebreaker-nixos-rendered-nixos.conf", // four parameters on one line
			want: []string{"l2arc_noprefetch=0@1", "l2arc_write_boost=33554432@1", "l2arc_write_max=16777216@1", "zfs_arc_max=2147483648@1"},
		},
		{
			name: "jeffellis-home-server-zfs.conf", // comments full of values that must not be read
			want: []string{"zfs_arc_max=2147483648@6"},
		},
		{
			name: "arcticfoxes-synapse-ubuntu-zfs.conf", // no trailing newline
			want: []string{"zfs_arc_max=8589934592@1"},
		},
		{
			name: "akai-hana-dotfiles-zfs.conf", // min before max, trailing blank line
			want: []string{"zfs_arc_min=1073741824@1", "zfs_arc_max=4294967296@2"},
		},
		{
			name: "petrusz-deskminiconfig-zfs.conf", // only a commented-out setting
		},
		{
			name: "sondrehusevold-dotfiles-zfs.conf", // commented-out old options, blank lines
			want: []string{"l2arc_trim_ahead=100@4", "l2arc_rebuild_enabled=1@5", "l2arc_noprefetch=0@6", "l2arc_headroom=6@7",
				"l2arc_write_max=33554432@8", "l2arc_write_boost=67108864@9", "zfs_bclone_enabled=1@10"},
		},
		{
			name: "blog-esbv-2014-combined-zfs.conf", // 13 options lines, comments with typos
			want: []string{"zfs_prefetch_disable=1@2", "zfs_txg_timeout=5@3", "zfs_vdev_async_write_max_active=1@4",
				"zfs_vdev_async_write_min_active=1@5", "zfs_vdev_async_read_max_active=1@6", "zfs_vdev_async_read_min_active=1@7",
				"zfs_vdev_sync_write_max_active=1@8", "zfs_vdev_sync_write_min_active=1@9", "zfs_vdev_sync_read_min_active=1@10",
				"zfs_vdev_sync_read_max_active=1@11", "zfs_arc_max=8589934592@14", "zfs_arc_meta_limit=2147483648@16", "zfs_arc_min=1073741824@18"},
		},
		{
			name: "xshok-proxmox-99-xs-zfsarc.rendered-64GB.conf", // not named zfs.conf
			want: []string{"zfs_arc_min=4294967296@4", "zfs_arc_max=8589934592@5", "l2arc_noprefetch=0@8", "l2arc_write_max=524288000@14", "zfs_txg_timeout=60@15"},
		},
		{
			name: "xshok-proxmox-99-xs-zfsarc.conf.template", // unrendered placeholders
			want: []string{"zfs_arc_min=$MY_ZFS_ARC_MIN@4", "zfs_arc_max=$MY_ZFS_ARC_MAX@5", "l2arc_noprefetch=0@8", "l2arc_write_max=524288000@14", "zfs_txg_timeout=60@15"},
			warn: []string{"t.conf:4: zfs_arc_min=$MY_ZFS_ARC_MIN: ", "zfs module fails to load", "t.conf:5: zfs_arc_max=$MY_ZFS_ARC_MAX"},
		},
		{
			name: "birma-dotfiles-root-zfs.conf",
			want: []string{"zfs_txg_timeout=120@4"},
		},
		{
			name: "benschza-nixos-rendered-nixos.conf",
			want: []string{"zfs_arc_max=3000000000@1", "zfs_arc_sys_free=3000000000@2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, w, err := ParseFile("/etc/modprobe.d/t.conf", strings.NewReader(fixture(t, tt.name)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, brief(s)); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			for _, x := range s {
				if x.Path != "/etc/modprobe.d/t.conf" || x.Source != FromFile {
					t.Errorf("setting %v: path %q source %v", x, x.Path, x.Source)
				}
			}
			checkWarnings(t, w, tt.warn)
		})
	}
}

// checkWarnings wants each substring in the joined warnings, in order, and
// no warnings at all when want is empty.
func checkWarnings(t *testing.T, got []Warning, want []string) {
	t.Helper()
	all := strings.Join(warnStrings(got), "\n")
	if len(want) == 0 && len(got) > 0 {
		t.Errorf("unexpected warnings:\n%s", all)
	}
	rest := all
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("warnings lack %q (in order); got:\n%s", w, all)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestParseFileSyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		warn []string
	}{
		{
			name: "trailing comment goes to the module",
			in:   "options zfs zfs_arc_max=8589934592  # 8GB max ARC\n",
			want: []string{"zfs_arc_max=8589934592@1", "#=@1", "8GB=@1", "max=@1", "ARC=@1"},
			warn: []string{"f:1: trailing '# ...' is passed to the module as parameters (modprobe.d has no end-of-line comments): # 8GB max ARC"},
		},
		{
			name: "trailing comment holding a setting applies it",
			in:   "options zfs zfs_arc_max=1073741824 # was zfs_arc_max=2147483648\n",
			want: []string{"zfs_arc_max=1073741824@1", "#=@1", "was=@1", "zfs_arc_max=2147483648@1"},
			warn: []string{"# was zfs_arc_max=2147483648"},
		},
		{
			name: "continuation joins lines, comment continuation swallows a line",
			in:   "options zfs a=1 \\\n  zfs_arc_max=2\n# note \\\noptions zfs zfs_arc_min=3\noptions zfs b=4\n",
			want: []string{"a=1@1", "zfs_arc_max=2@2", "b=4@5"},
			warn: []string{"f:3: comment ends in '\\': modprobe reads line(s) 4-4 as part of the comment and ignores them"},
		},
		{
			name: "indented comment, tabs, dashes, quotes",
			in:   "  # options zfs zfs_arc_max=5\n\toptions\tzfs\tzfs-arc-max=\"0x10\"\n",
			want: []string{"zfs-arc-max=0x10@2"},
		},
		{
			name: "other modules, other commands, empty options",
			in:   "options spl spl_kmem_cache_slab_limit=16384\ninstall zfs /bin/true\nsoftdep zfs pre: spl\noptions zfs\noptions zfs   \nblacklist zfs\noptions zfs zfs_arc_max=1073741824\n",
			want: []string{"zfs_arc_max=1073741824@7"},
		},
		{
			name: "misspelled command",
			in:   "option zfs zfs_arc_max=1073741824\n",
			warn: []string{"f:1: modprobe ignores this line: \"option\" is not a modprobe.d command (did you mean 'options'?)"},
		},
		{
			name: "octal and hex",
			in:   "options zfs zfs_arc_max=0100 zfs_arc_min=0x4000000\n",
			want: []string{"zfs_arc_max=0100@1", "zfs_arc_min=0x4000000@1"},
			warn: []string{"zfs_arc_max=0100 starts with 0, so the kernel reads it as octal: 64 bytes"},
		},
		{
			name: "size suffix fails the module load",
			in:   "options zfs zfs_arc_max=8G\n",
			want: []string{"zfs_arc_max=8G@1"},
			warn: []string{"zfs_arc_max=8G: \"8G\" is not a number", "the zfs module fails to load"},
		},
		{
			name: "no value",
			in:   "options zfs zfs_arc_max\n",
			want: []string{"zfs_arc_max=@1"},
			warn: []string{"zfs_arc_max has no value"},
		},
		{
			name: "double dash ends the parameters",
			in:   "options zfs zfs_arc_max=1 -- b=2\noptions zfs c=3\n",
			want: []string{"zfs_arc_max=1@1"},
			warn: []string{"f:1: a '--' word ends", "f:2: ignored by the kernel"},
		},
		{
			name: "unbalanced quote",
			in:   "options zfs a=\"x y\noptions zfs zfs_arc_max=1\n",
			want: []string{"a=x y@1", "zfs_arc_max=1@2"},
			warn: []string{"f:1: unbalanced '\"'"},
		},
		{
			name: "CRLF line endings",
			in:   "options zfs zfs_arc_max=1073741824\r\noptions zfs\r\n",
			want: []string{"zfs_arc_max=1073741824@1"},
		},
		{
			name: "backslash escapes and NUL",
			in:   "options zfs zfs\\_arc_max=1\\\\\noptions zfs b=2\x00c=3\n",
			want: []string{"zfs_arc_max=1\\@1", "b=2@2"},
			warn: []string{"zfs_arc_max=1\\: \"1\\\\\" is not a number"},
		},
		{
			name: "backslash at EOF",
			in:   "options zfs zfs_arc_max=1\\",
			want: []string{"zfs_arc_max=1@1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, w, err := ParseFile("f", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, brief(s)); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			checkWarnings(t, w, tt.warn)
		})
	}
}

func TestParseFileReadError(t *testing.T) {
	_, _, err := ParseFile("/etc/modprobe.d/zfs.conf", iotest.ErrReader(errors.New("boom")))
	if err == nil || !strings.Contains(err.Error(), "/etc/modprobe.d/zfs.conf: boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "debian root on zfs",
			in:   "BOOT_IMAGE=/BOOT/debian@/vmlinuz-6.1.0-18-amd64 root=ZFS=rpool/ROOT/debian ro zfs.zfs_arc_max=2147483648 quiet\n",
			want: []string{"zfs_arc_max=2147483648@0"},
		},
		{
			name: "several, min and max, module name with dash",
			in:   "quiet zfs.zfs_arc_min=268435456 zfs.zfs_arc_max=1073741824 zfs-foo.bar=1 spl.spl_hostid=0x1\n",
			want: []string{"zfs_arc_min=268435456@0", "zfs_arc_max=1073741824@0"},
		},
		{
			name: "words kmod does not take as module options",
			in:   "zfs.a.b=1 foo=zfs.x zfs=1 .zfs_arc_max=1 \"zfs.zfs_arc_max\"=2\n",
		},
		{
			name: "no value, quotes around the word and the value",
			in:   "zfs.zfs_arc_max \"zfs.x=a b\" zfs.y=\"c d\"\n",
			want: []string{"zfs_arc_max=@0", "x=a b@0", "y=c d@0"},
		},
		{
			name: "tabs and no trailing newline",
			in:   "ro\tzfs.zfs_arc_max=4294967296",
			want: []string{"zfs_arc_max=4294967296@0"},
		},
		{
			name: "empty",
			in:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseCmdline(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, brief(s)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, x := range s {
				if x.Path != CmdlinePath || x.Source != FromCmdline || x.Line != 0 {
					t.Errorf("setting %+v", x)
				}
			}
		})
	}
}

func TestSameParam(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"zfs_arc_max", "zfs_arc_max", true},
		{"zfs-arc-max", "zfs_arc_max", true},
		{"zfs_arc_max", "zfs_arc_min", false},
		{"zfs_arc_max", "zfs_arc_max_", false},
	} {
		if got := SameParam(tt.a, tt.b); got != tt.want {
			t.Errorf("SameParam(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestSourceJSON(t *testing.T) {
	in := Setting{Param: "zfs_arc_max", Value: "1", Path: CmdlinePath, Source: FromCmdline}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Param":"zfs_arc_max","Value":"1","Path":"/proc/cmdline","Line":0,"Source":"cmdline"}`; string(b) != want {
		t.Errorf("json %s", b)
	}
	if _, err := json.Marshal(Setting{Source: 7}); err == nil {
		t.Error("invalid source marshalled")
	}
}
