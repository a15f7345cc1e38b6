package osinfo

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Distro
	}{
		{"debian", testutil.OSDebian, Distro{ID: "debian", Name: "Debian GNU/Linux"}},
		{"ubuntu", testutil.OSUbuntu, Distro{ID: "ubuntu", IDLike: []string{"debian"}, Name: "Ubuntu"}},
		{"rocky", testutil.OSRocky, Distro{ID: "rocky", IDLike: []string{"rhel", "centos", "fedora"}, Name: "Rocky Linux"}},
		{"nixos unquoted name", testutil.OSNixOS, Distro{ID: "nixos", Name: "NixOS"}},
		{"quoting and comments", "# comment\n\nNAME='It''s'\nID=\"My\\\"OS\\\\\"\n  ID_LIKE = \"Foo  bar\" \nnot an assignment\n", Distro{ID: "my\"os\\", IDLike: []string{"foo", "bar"}, Name: "It''s"}},
		{"empty", "", Distro{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSRelease(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseOSRelease(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Error("read error not reported")
	}
}

func TestParseMounts(t *testing.T) {
	tests := []struct {
		name, in, fstype, source, err string
		noRoot                        bool
	}{
		{name: "root on zfs", in: testutil.MountsZFS, fstype: "zfs", source: "rpool/ROOT/debian"},
		{name: "root on ext4, pools elsewhere", in: testutil.MountsExt4, fstype: "ext4", source: "/dev/sda1"},
		{name: "the last mount on / wins", in: "rootfs / rootfs rw 0 0\nrpool/ROOT/ubuntu_abc / zfs rw 0 0\n", fstype: "zfs", source: "rpool/ROOT/ubuntu_abc"},
		{name: "escapes", in: "my\\040pool/root / zfs rw 0 0\n", fstype: "zfs", source: "my pool/root"},
		{name: "no root", in: "proc /proc proc rw 0 0\n", noRoot: true},
		{name: "short line", in: "proc /proc proc rw 0 0\nbroken /\n", err: "/proc/mounts:2: \"broken /\" has 2 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMounts(strings.NewReader(tt.in), "/proc/mounts")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			root, ok := m.On("/")
			if ok == tt.noRoot || root.Type != tt.fstype || root.Source != tt.source {
				t.Errorf("On(/) = %+v, %v", root, ok)
			}
		})
	}
	m, _ := ParseMounts(strings.NewReader(testutil.MountsExt4+"lxcfs /proc/meminfo fuse.lxcfs rw 0 0\n"), "/proc/mounts")
	if !m.Has("fuse.lxcfs", "/proc/meminfo") || m.Has("zfs", "/proc/meminfo") || !m.Has("zfs", "/tank/vm disks") {
		t.Errorf("Has: %+v", m)
	}
}
